// The audit log: every state-changing admin API request (login and logout included), who made it (the admin's
// login session, or an API token by its name), from which address, what it asked (the body with secrets left out)
// and how it ended. Stored in SQLite (the `audit_log` table of src/cache/migrations.ts); read back newest first.
import type { FastifyRequest } from 'fastify';
import type { CacheDatabase } from '../cache/db.js';
import type { Principal } from './admin-auth.js';
import type { AnyApiRoute } from './api-kit.js';

export interface AuditEntry {
  id: number;
  at: number;
  via: 'session' | 'token' | 'none';
  actor: string;
  client: string;
  action: string;
  summary: string;
  target: string;
  detail: string | null;
  outcome: string;
}

/** Body keys whose values never reach the log (passwords, tokens, keys, CA text, webhook URLs with their secret path). */
const secretKey = /password|secret|token|key|pem|credential|webhook/i;
const maxDetail = 2000;

/** The user-info of a URL (`https://user:pass@host`, a credential in an upstream, mirror or proxy URL). */
const urlUserInfo = /^([a-z][a-z0-9+.-]*:\/\/)[^/?#]*@/i;

/**
 * The body as JSON with every secret replaced by `"(hidden)"`, user-info in URLs included (docs/security.md,
 * "Secrets the admin keeps"), cut to a readable length.
 */
export function redact(body: unknown): string | null {
  if (body === undefined || body === null) return null;
  const json = JSON.stringify(body, (key, value: unknown) => {
    if (key && secretKey.test(key) && value !== null && value !== undefined) return '(hidden)';
    return typeof value === 'string' ? value.replace(urlUserInfo, '$1(hidden)@') : value;
  });
  return json.length > maxDetail ? `${json.slice(0, maxDetail)}…` : json;
}

/** What a request acted on: the path's parameters, else the body's name-like field. */
function targetOf(params: Record<string, string> | undefined, body: unknown): string {
  const fromPath = Object.values(params ?? {}).filter(Boolean);
  if (fromPath.length) return fromPath.join('/');
  if (body && typeof body === 'object') {
    const b = body as Record<string, unknown>;
    for (const key of ['name', 'username', 'sni', 'pin', 'digest']) if (typeof b[key] === 'string') return b[key];
    if (typeof b['upstream'] === 'string') return [b['upstream'], b['repository'], b['tag']].filter((x) => typeof x === 'string').join('/');
    if (Array.isArray(b['images'])) return (b['images'] as unknown[]).filter((x) => typeof x === 'string').join(', ');
  }
  return '';
}

export class AuditLog {
  constructor(
    private readonly db: CacheDatabase,
    private readonly clock: () => number = Date.now,
  ) {}

  /** Who a principal is, in words: an API token by its name, or the admin's session. */
  private who(principal: Principal | undefined): { via: AuditEntry['via']; actor: string } {
    if (!principal) return { via: 'none', actor: 'anonymous' };
    if (principal.via === 'session') return { via: 'session', actor: 'admin' };
    const row = this.db.prepare('SELECT name FROM api_tokens WHERE id = ?').get(principal.tokenId) as { name: string } | undefined;
    return { via: 'token', actor: row ? `token ${row.name}` : `token ${principal.tokenId}` };
  }

  record(e: { principal: Principal | undefined; client: string; route: AnyApiRoute; params?: Record<string, string>; body: unknown; outcome: string }): void {
    // A login has no principal yet: the one that succeeded is the admin's new session.
    const { via, actor } = !e.principal && e.route.url === '/api/login' && e.outcome === 'ok' ? { via: 'session' as const, actor: 'admin' } : this.who(e.principal);
    this.db
      .prepare('INSERT INTO audit_log (at, via, actor, client, action, target, detail, outcome) VALUES (?, ?, ?, ?, ?, ?, ?, ?)')
      .run(this.clock(), via, actor, e.client, `${e.route.method} ${e.route.url}`, targetOf(e.params, e.body), redact(e.body), e.outcome);
  }

  /** Newest first; `before` pages on by id. Summaries come from the routes as declared now. */
  list(limit: number, before: number | undefined, summaries: ReadonlyMap<string, string>): AuditEntry[] {
    const rows = this.db
      .prepare(`SELECT id, at, via, actor, client, action, target, detail, outcome FROM audit_log ${before ? 'WHERE id < ?' : ''} ORDER BY id DESC LIMIT ?`)
      .all(...(before ? [before, limit] : [limit])) as Array<Omit<AuditEntry, 'summary'>>;
    return rows.map((r) => ({ ...r, summary: summaries.get(r.action) ?? r.action }));
  }
}

/** Whether a route changes state (and so is audited). */
export const isAudited = (r: AnyApiRoute): boolean => r.method !== 'GET';

/**
 * The routes, each state-changing one wrapped so that its outcome lands in the audit log: `ok` once the handler
 * returned, the error's code when it threw (the error still goes on to the error handler).
 */
export function audited(log: AuditLog, routes: readonly AnyApiRoute[]): AnyApiRoute[] {
  return routes.map((r) => {
    if (!isAudited(r)) return r;
    const wrapped: AnyApiRoute = {
      ...r,
      async handler(input) {
        const entry = { principal: input.principal, client: clientOf(input.req), route: r, params: input.params, body: input.body as unknown };
        try {
          const out: unknown = await r.handler(input);
          log.record({ ...entry, outcome: 'ok' });
          return out as never;
        } catch (err) {
          log.record({ ...entry, outcome: (err as { code?: unknown }).code ? String((err as { code: unknown }).code) : 'error' });
          throw err;
        }
      },
    };
    return wrapped;
  });
}

const clientOf = (req: FastifyRequest | undefined): string => req?.ip ?? '';
