// TLS passthrough routes by SNI: list (with their connection counters), add, delete.
import type { AdminContext } from '../admin-context.js';
import { route, type AnyApiRoute } from '../api-kit.js';
import { passthroughCreate, passthroughList } from '../api-schemas.js';

export function passthroughRoutes(ctx: AdminContext): AnyApiRoute[] {
  const list = () => {
    const stats = new Map((ctx.sniStats()?.routes ?? []).map((r) => [r.sni, r]));
    return {
      routes: ctx.passthrough.list().map((r) => {
        const s = stats.get(r.sni);
        return { ...r, stats: { connections: s?.connections ?? 0, active: s?.active ?? 0, bytesIn: s?.bytesIn ?? 0, bytesOut: s?.bytesOut ?? 0 } };
      }),
    };
  };
  return [
    route({ method: 'GET', url: '/api/passthrough', summary: 'TLS passthrough routes with their connection counters', tag: 'passthrough', response: passthroughList, handler: list }),
    route({
      method: 'POST',
      url: '/api/passthrough',
      summary: 'Pipe TLS connections for a server name, still encrypted, to a backend (host:port); applies to the next connection',
      tag: 'passthrough',
      body: passthroughCreate,
      response: passthroughList,
      status: 201,
      handler({ req }) {
        ctx.passthrough.add(req.body);
        return list();
      },
    }),
    route({
      method: 'DELETE',
      url: '/api/passthrough/:sni',
      summary: 'Remove a passthrough route added here',
      tag: 'passthrough',
      handler({ params }) {
        ctx.passthrough.remove(String(params.sni));
      },
    }),
  ];
}
