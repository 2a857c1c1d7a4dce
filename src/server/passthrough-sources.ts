// TLS passthrough routes: the config file's (read-only here) and those added through the admin (SQLite), applied
// to the HTTPS port's SNI router at once. The same validation as the config file: a name routed twice or one that
// is an upstream's mirror hostname is refused, naming the field.
import type { CacheDatabase } from '../cache/db.js';
import { passthroughConflicts, passthroughRouteSchema, type PassthroughRoute } from '../config/passthrough.js';
import { invalidFields, SourceEditError } from '../config/source-errors.js';

export interface PassthroughSource extends PassthroughRoute {
  source: 'config' | 'admin';
}

export class PassthroughSources {
  constructor(
    private readonly db: CacheDatabase,
    private readonly fromConfig: readonly PassthroughRoute[],
    /** Mirror hostnames of the upstreams in force: a passthrough name may not take one over. */
    private readonly mirrorHosts: () => ReadonlySet<string>,
    private readonly apply: (routes: PassthroughRoute[]) => void,
    private readonly clock: () => number = Date.now,
  ) {}

  list(): PassthroughSource[] {
    const stored = this.db.prepare('SELECT sni, target FROM passthrough_routes ORDER BY created_at, sni').all() as Array<{ sni: string; target: string }>;
    return [...this.fromConfig.map((r) => ({ ...r, source: 'config' as const })), ...stored.map((r) => ({ sni: r.sni, to: r.target, source: 'admin' as const }))];
  }

  /** What the router should route: applied at start and after every change. */
  routes(): PassthroughRoute[] {
    return this.list().map(({ sni, to }) => ({ sni, to }));
  }

  add(input: unknown): void {
    const parsed = passthroughRouteSchema.safeParse(input);
    if (!parsed.success) throw invalidFields(parsed.error.issues);
    const route = parsed.data;
    const all = [...this.routes(), route];
    if (passthroughConflicts(all).length > 0) {
      throw new SourceEditError('CONFLICT', `sni: ${route.sni} is routed already`, [{ path: 'sni', message: `${route.sni} is routed already` }]);
    }
    if (this.mirrorHosts().has(route.sni)) {
      const message = `${route.sni} is a mirror hostname of an upstream`;
      throw new SourceEditError('VALIDATION', `sni: ${message}`, [{ path: 'sni', message }]);
    }
    this.db.prepare('INSERT INTO passthrough_routes (sni, target, created_at) VALUES (?, ?, ?)').run(route.sni, route.to, this.clock());
    this.apply(this.routes());
  }

  remove(sni: string): void {
    if (this.fromConfig.some((r) => r.sni === sni)) throw new SourceEditError('READ_ONLY', `the route for ${sni} is declared in the config file; change it there`);
    const { changes } = this.db.prepare('DELETE FROM passthrough_routes WHERE sni = ?').run(sni);
    if (!changes) throw new SourceEditError('NOT_FOUND', `no passthrough route for ${sni}`);
    this.apply(this.routes());
  }
}
