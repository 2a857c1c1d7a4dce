// Who may use the admin: one admin password (from PULLGATE_ADMIN_PASSWORD, a file, or generated on first start
// and printed once), login sessions in an HttpOnly cookie with a CSRF token, and API tokens for scripts.
// Only hashes are stored: scrypt for the password, SHA-256 for session ids and tokens (random, 256 bits).
import { createHash, randomBytes, randomUUID, timingSafeEqual } from 'node:crypto';
import type { Logger } from 'pino';
import type { CacheDatabase } from '../cache/db.js';
import { AdminError } from './admin-errors.js';
import { LoginLimiter } from '../access/login-limiter.js';
import { generatePassword, hashPassword, verifyPassword } from '../access/password.js';

export interface AdminAuthOptions {
  /** The admin password from the environment or a file; absent: the stored one, or a generated one. */
  password?: string;
  sessionTtlMs: number;
  clock?: () => number;
  limiter?: LoginLimiter;
}

export type Principal = { via: 'session'; csrfToken: string; sessionHash: string } | { via: 'token'; tokenId: string };

export interface Session {
  /** The cookie value (never stored). */
  id: string;
  csrfToken: string;
  expiresAt: number;
}

const sha256 = (value: string): string => createHash('sha256').update(value).digest('hex');
const random = (): string => randomBytes(32).toString('base64url');
const tokenPrefix = 'pgat_';

export class AdminAuth {
  private readonly clock: () => number;
  readonly limiter: LoginLimiter;

  constructor(
    private readonly db: CacheDatabase,
    private readonly log: Logger,
    private readonly options: AdminAuthOptions,
  ) {
    this.clock = options.clock ?? Date.now;
    this.limiter = options.limiter ?? new LoginLimiter(undefined, this.clock);
  }

  /** Makes sure a password hash exists; a changed configured password replaces it and ends every session. */
  async init(): Promise<void> {
    const stored = this.setting('admin_password');
    const configured = this.options.password;
    if (configured !== undefined) {
      if (configured.length < 8) throw new AdminError('VALIDATION', 'the admin password must have at least 8 characters');
      if (stored && (await verifyPassword(configured, stored))) return;
      this.setSetting('admin_password', await hashPassword(configured));
      if (stored) this.db.prepare('DELETE FROM admin_sessions').run();
      return;
    }
    if (stored) return;
    const generated = generatePassword();
    this.setSetting('admin_password', await hashPassword(generated));
    // Shown once, by design (only its hash is kept): the operator's first way in.
    this.log.warn({ highlight: true }, `admin password generated on first start: ${generated} (shown only once; set PULLGATE_ADMIN_PASSWORD or admin.passwordFile to choose one)`);
  }

  /** `client`: the address the limit counts against (the real client behind a trusted proxy). */
  async login(password: string, client: string): Promise<Session> {
    // Counted before the (slow) check, so that parallel guesses are limited like sequential ones.
    const wait = this.limiter.attempt(client);
    if (wait > 0) throw new AdminError('TOO_MANY_ATTEMPTS', `too many failed logins; try again in ${wait} s`, { retryAfterSeconds: wait });
    const stored = this.setting('admin_password');
    if (!stored || !(await verifyPassword(password, stored))) {
      this.log.warn({ client }, 'admin login failed');
      throw new AdminError('UNAUTHORIZED', 'wrong password');
    }
    this.limiter.succeeded(client);
    const now = this.clock();
    const session: Session = { id: random(), csrfToken: random(), expiresAt: now + this.options.sessionTtlMs };
    this.db.prepare('DELETE FROM admin_sessions WHERE expires_at <= ?').run(now);
    this.db
      .prepare('INSERT INTO admin_sessions (id_hash, csrf_token, created_at, expires_at) VALUES (?, ?, ?, ?)')
      .run(sha256(session.id), session.csrfToken, now, session.expiresAt);
    this.log.info({ client }, 'admin logged in');
    return session;
  }

  logout(sessionId: string): void {
    this.db.prepare('DELETE FROM admin_sessions WHERE id_hash = ?').run(sha256(sessionId));
  }

  /** The principal behind a session cookie or a bearer token, or undefined. */
  authenticate(cookie: string | undefined, authorization: string | undefined): Principal | undefined {
    const bearer = /^Bearer\s+(\S+)$/i.exec(authorization ?? '')?.[1];
    if (bearer?.startsWith(tokenPrefix)) {
      const row = this.db.prepare('SELECT id FROM api_tokens WHERE token_hash = ?').get(sha256(bearer)) as { id: string } | undefined;
      if (!row) return undefined;
      this.db.prepare('UPDATE api_tokens SET last_used_at = ? WHERE id = ?').run(this.clock(), row.id);
      return { via: 'token', tokenId: row.id };
    }
    if (!cookie) return undefined;
    const hash = sha256(cookie);
    const row = this.db.prepare('SELECT csrf_token, expires_at FROM admin_sessions WHERE id_hash = ?').get(hash) as
      | { csrf_token: string; expires_at: number }
      | undefined;
    if (!row || row.expires_at <= this.clock()) return undefined;
    return { via: 'session', csrfToken: row.csrf_token, sessionHash: hash };
  }

  /** A cookie-authenticated state change must carry the session's CSRF token; tokens are not sent by browsers. */
  checkCsrf(principal: Principal, header: string | undefined): void {
    if (principal.via === 'token') return;
    const expected = Buffer.from(principal.csrfToken);
    const given = Buffer.from(header ?? '');
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
      throw new AdminError('CSRF', 'missing or wrong X-CSRF-Token header');
    }
  }

  createToken(name: string): { id: string; name: string; token: string; createdAt: number } {
    const token = `${tokenPrefix}${random()}`;
    const id = randomUUID();
    const createdAt = this.clock();
    this.db.prepare('INSERT INTO api_tokens (id, name, token_hash, created_at) VALUES (?, ?, ?, ?)').run(id, name, sha256(token), createdAt);
    return { id, name, token, createdAt };
  }

  tokens(): Array<{ id: string; name: string; createdAt: number; lastUsedAt: number | null }> {
    const rows = this.db.prepare('SELECT id, name, created_at, last_used_at FROM api_tokens ORDER BY created_at').all() as Array<{
      id: string;
      name: string;
      created_at: number;
      last_used_at: number | null;
    }>;
    return rows.map((r) => ({ id: r.id, name: r.name, createdAt: r.created_at, lastUsedAt: r.last_used_at }));
  }

  revokeToken(id: string): void {
    const { changes } = this.db.prepare('DELETE FROM api_tokens WHERE id = ?').run(id);
    if (!changes) throw new AdminError('NOT_FOUND', `no API token ${id}`);
  }

  private setting(key: string): string | undefined {
    return (this.db.prepare('SELECT value FROM settings WHERE key = ?').get(key) as { value: string } | undefined)?.value;
  }

  private setSetting(key: string, value: string): void {
    this.db.prepare('INSERT INTO settings (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value').run(key, value);
  }
}
