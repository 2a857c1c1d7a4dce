// The passthrough routes as a live object: config fills it at start, and the admin API can replace the whole list
// at run time; a connection reads the list once, when its ClientHello arrives, so an edit never affects open pipes.
import { parseBackend, passthroughConflicts, passthroughRouteSchema, type Backend, type PassthroughRoute } from '../config/passthrough.js';

export interface SniRoute extends PassthroughRoute {
  backend: Backend;
}

export class SniRoutesError extends Error {
  readonly code = 'SNI_ROUTES_INVALID';
  constructor(readonly problems: string[]) {
    super(`invalid passthrough routes:\n  ${problems.join('\n  ')}`);
    this.name = 'SniRoutesError';
  }
}

export class SniRoutes {
  private exact = new Map<string, SniRoute>();
  private wildcard = new Map<string, SniRoute>();
  private all: SniRoute[] = [];

  constructor(routes: readonly PassthroughRoute[] = []) {
    this.replace(routes);
  }

  /** Swaps in a new list, all or nothing: an invalid list changes nothing and throws with every problem. */
  replace(routes: readonly PassthroughRoute[]): void {
    const problems: string[] = [];
    routes.forEach((r, i) => {
      const parsed = passthroughRouteSchema.safeParse(r);
      if (!parsed.success) for (const issue of parsed.error.issues) problems.push(`[${i}].${issue.path.join('.')}: ${issue.message}`);
    });
    for (const [i, message] of passthroughConflicts(routes)) problems.push(`[${i}].sni: ${message}`);
    if (problems.length > 0) throw new SniRoutesError(problems);
    const all = routes.map((r) => ({ sni: r.sni, to: r.to, backend: parseBackend(r.to)! }));
    this.exact = new Map(all.filter((r) => !r.sni.startsWith('*.')).map((r) => [r.sni, r]));
    this.wildcard = new Map(all.filter((r) => r.sni.startsWith('*.')).map((r) => [r.sni.slice(2), r]));
    this.all = all;
  }

  /** The route for a server name: an exact name first, then `*.` + its parent domain (one label, as certificates). */
  match(sni: string | undefined): SniRoute | undefined {
    if (sni === undefined) return undefined;
    const name = sni.toLowerCase();
    const hit = this.exact.get(name);
    if (hit) return hit;
    const dot = name.indexOf('.');
    return dot > 0 ? this.wildcard.get(name.slice(dot + 1)) : undefined;
  }

  list(): PassthroughRoute[] {
    return this.all.map(({ sni, to }) => ({ sni, to }));
  }
}
