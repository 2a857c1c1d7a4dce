// Pullgate's own users for the registry face (`docker login mirror.example.com`): from the config file
// (`access.users`, scrypt hashes) and from `pullgate user add` (SQLite). Password checks are scrypt, which is slow
// on purpose; a verified username/password pair is remembered for a minute so a pull's many requests with Basic
// credentials cost one check. A remembered pair holds only while the user's stored hash is the one it was verified
// against: a user removed or given another password, by this process or by another worker sharing the database
// (docs/workers.md), is refused at once. An unknown user costs a full check too, against a stand-in hash, so that
// the time of an answer does not tell which usernames exist (docs/security.md).
import { createHash, randomBytes } from 'node:crypto';
import type { CacheDatabase } from '../cache/db.js';
import { hashPassword, verifyPassword } from './password.js';

const rememberMs = 60_000;

export class RegistryUsers {
  /** Remembered pairs: until when, and the stored hash they were verified against. */
  private readonly verified = new Map<string, { until: number; hash: string }>();
  private standIn: Promise<string> | undefined;
  /** Read on every request with Basic credentials (a remembered pair is checked against it): prepared once. */
  private readonly storedHash;

  constructor(
    private readonly db: CacheDatabase,
    private readonly fromConfig: ReadonlyArray<{ username: string; passwordHash: string }>,
    private readonly clock: () => number = Date.now,
  ) {
    this.storedHash = db.prepare<[string], { password_hash: string }>('SELECT password_hash FROM registry_users WHERE username = ?');
  }

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

  /** Whether this pair was verified within the last minute (no check needed, no attempt to count). */
  remembered(username: string, password: string): boolean {
    const entry = this.verified.get(rememberKey(username, password));
    return entry !== undefined && entry.until > this.clock() && entry.hash === this.hashOf(username);
  }

  async verify(username: string, password: string): Promise<boolean> {
    if (this.remembered(username, password)) return true;
    const hash = this.hashOf(username);
    // An unknown user is checked against a stand-in hash of the same cost, and fails.
    const ok = (await verifyPassword(password, hash ?? (await this.standInHash()))) && hash !== undefined;
    if (!ok) return false;
    if (this.verified.size > 10_000) this.verified.clear();
    this.verified.set(rememberKey(username, password), { until: this.clock() + rememberMs, hash });
    return true;
  }

  /** Whether the user exists now: a token names a user, and a removed user's tokens stop working at once. */
  exists(username: string): boolean {
    return this.hashOf(username) !== undefined;
  }

  private hashOf(username: string): string | undefined {
    return (
      this.fromConfig.find((u) => u.username === username)?.passwordHash ??
      this.storedHash.get(username)?.password_hash
    );
  }

  private standInHash(): Promise<string> {
    this.standIn ??= hashPassword(randomBytes(32).toString('base64url'));
    return this.standIn;
  }

  get any(): boolean {
    return this.fromConfig.length > 0 || (this.db.prepare('SELECT 1 FROM registry_users LIMIT 1').get() !== undefined);
  }

  private forget(_username: string): void {
    // A changed or removed password must not stay valid through the remembered checks.
    this.verified.clear();
  }
}

const rememberKey = (username: string, password: string): string => createHash('sha256').update(`${username}\0${password}`).digest('hex');
