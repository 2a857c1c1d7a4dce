// Pullgate's own users for the registry face (`docker login mirror.example.com`): from the config file
// (`access.users`, scrypt hashes) and from `pullgate user add` (SQLite). Password checks are scrypt, which is slow
// on purpose; a verified username/password pair is remembered for a minute so a pull's many requests with Basic
// credentials cost one check.
import { createHash } from 'node:crypto';
import type { CacheDatabase } from '../cache/db.js';
import { hashPassword, verifyPassword } from '../admin/password.js';

const rememberMs = 60_000;

export class RegistryUsers {
  private readonly verified = new Map<string, number>();

  constructor(
    private readonly db: CacheDatabase,
    private readonly fromConfig: ReadonlyArray<{ username: string; passwordHash: string }>,
    private readonly clock: () => number = Date.now,
  ) {}

  list(): Array<{ username: string; source: 'config' | 'stored'; createdAt: number | null }> {
    const stored = this.db.prepare('SELECT username, created_at FROM registry_users ORDER BY username').all() as Array<{ username: string; created_at: number }>;
    return [
      ...this.fromConfig.map((u) => ({ username: u.username, source: 'config' as const, createdAt: null })),
      ...stored.filter((s) => !this.fromConfig.some((c) => c.username === s.username)).map((s) => ({ username: s.username, source: 'stored' as const, createdAt: s.created_at })),
    ];
  }

  async add(username: string, password: string): Promise<void> {
    this.db
      .prepare('INSERT INTO registry_users (username, password_hash, created_at) VALUES (?, ?, ?) ON CONFLICT (username) DO UPDATE SET password_hash = excluded.password_hash')
      .run(username, await hashPassword(password), this.clock());
    this.forget(username);
  }

  remove(username: string): boolean {
    this.forget(username);
    return this.db.prepare('DELETE FROM registry_users WHERE username = ?').run(username).changes > 0;
  }

  async verify(username: string, password: string): Promise<boolean> {
    const key = createHash('sha256').update(`${username}\0${password}`).digest('hex');
    const until = this.verified.get(key);
    const now = this.clock();
    if (until !== undefined && until > now) return true;
    const hash =
      this.fromConfig.find((u) => u.username === username)?.passwordHash ??
      (this.db.prepare('SELECT password_hash FROM registry_users WHERE username = ?').get(username) as { password_hash: string } | undefined)?.password_hash;
    if (!hash || !(await verifyPassword(password, hash))) return false;
    if (this.verified.size > 10_000) this.verified.clear();
    this.verified.set(key, now + rememberMs);
    return true;
  }

  get any(): boolean {
    return this.fromConfig.length > 0 || (this.db.prepare('SELECT 1 FROM registry_users LIMIT 1').get() !== undefined);
  }

  private forget(_username: string): void {
    // A changed or removed password must not stay valid through the remembered checks.
    this.verified.clear();
  }
}
