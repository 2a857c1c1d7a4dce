// Client setup snippets for the live upstreams.
import type { FastifyRequest } from 'fastify';
import type { AdminContext } from '../admin-context.js';
import { route, type AnyApiRoute } from '../api-kit.js';
import { setupQuery, setupView } from '../api-schemas.js';
import { setupSnippets } from '../setup-snippets.js';
import { requestAuthority } from '../../server/request-authority.js';

export function setupRoutes(ctx: AdminContext): AnyApiRoute[] {
  return [
    route({
      method: 'GET',
      url: '/api/setup',
      summary: 'Client configuration snippets (daemon.json, hosts.toml, registries.conf, k3s, kind, image names)',
      tag: 'setup',
      query: setupQuery,
      response: setupView,
      handler({ query, req }) {
        const mirror = new URL(query.mirror ?? ctx.config.publicUrl ?? defaultMirror(ctx, req));
        const upstreams = ctx.sources.list().map((s) => ({
          name: s.config.name,
          registry: s.config.registry,
          hosts: s.config.hosts,
          default: s.config.default,
          enabled: s.enabled,
        }));
        return { mirror: mirror.href.replace(/\/$/, ''), snippets: setupSnippets({ mirror, upstreams, ...(query.caFile ? { caFile: query.caFile } : {}) }) };
      },
    }),
  ];
}

/**
 * Without publicUrl: the HTTPS listener if there is one, else HTTP, and a wildcard bind address replaced by the
 * host name the admin page was opened with (the operator's browser reached this machine by it).
 */
function defaultMirror(ctx: AdminContext, req: FastifyRequest): string {
  const bound = ctx.registryAddresses();
  const address = new URL(bound.https ?? bound.http ?? 'http://localhost:5000');
  if (address.hostname === '0.0.0.0' || address.hostname === '[::]') address.hostname = requestAuthority(req.raw).authority?.host ?? 'localhost';
  return address.href;
}
