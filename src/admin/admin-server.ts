// The admin listener: its own fastify instance on its own port (loopback by default), never reachable through the
// registry listeners. Serves the JSON API under /api, the OpenAPI document, the web UI from web/dist, and health.
// Every route needs a login unless its declaration says it is public (route-guard.ts, docs/security.md). Errors
// are AdminError codes mapped to HTTP here, once.
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import fastifyCookie from '@fastify/cookie';
import fastifyStatic from '@fastify/static';
import Fastify, { type FastifyInstance } from 'fastify';
import { ZodError } from 'zod';
import type { AdminContext } from './admin-context.js';
import { AdminError, validationError } from './admin-errors.js';
import { SourceEditError } from '../config/source-errors.js';
import { AdminHosts } from './admin-hosts.js';
import { openApiDocument, registerApiRoutes, type AnyApiRoute } from './api-kit.js';
import { apiError } from './api-schemas.js';
import { audited } from './audit-log.js';
import { activityRoutes } from './routes/activity-routes.js';
import { auditRoutes } from './routes/audit-routes.js';
import { cacheRoutes } from './routes/cache-routes.js';
import { clusterRoutes } from './routes/cluster-routes.js';
import { prefetchRoutes } from './routes/prefetch-routes.js';
import { installRouteGuard } from './route-guard.js';
import { sessionRoutes } from './routes/session-routes.js';
import { setupRoutes } from './routes/setup-routes.js';
import { upstreamRoutes } from './routes/upstream-routes.js';
import { passthroughRoutes } from './routes/passthrough-routes.js';
import { userRoutes } from './routes/user-routes.js';
import { watchRoutes } from './routes/watch-routes.js';

/** web/dist of this checkout or installation: found from this file upwards (src/admin or dist/src/admin). */
export function webRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 5; i++) {
    if (existsSync(join(dir, 'package.json'))) return join(dir, 'web', 'dist');
    dir = dirname(dir);
  }
  return join(process.cwd(), 'web', 'dist');
}

export function adminRoutes(ctx: AdminContext): AnyApiRoute[] {
  // Every state-changing route is recorded in the audit log (src/admin/audit-log.ts).
  const routes: AnyApiRoute[] = audited(ctx.audit, [...auditRoutes(ctx, () => routes), ...sessionRoutes(ctx), ...upstreamRoutes(ctx), ...cacheRoutes(ctx), ...prefetchRoutes(ctx), ...activityRoutes(ctx), ...setupRoutes(ctx), ...userRoutes(ctx), ...passthroughRoutes(ctx), ...clusterRoutes(ctx), ...watchRoutes(ctx)]);
  return routes;
}

export async function buildAdminServer(ctx: AdminContext, options: { webDir?: string } = {}): Promise<FastifyInstance> {
  const app = Fastify({ logger: false, bodyLimit: 2 * 1024 * 1024, trustProxy: false });
  await app.register(fastifyCookie);
  // Before any route: a route keeps the error handler in force when it was declared.
  app.setErrorHandler(async (err, req, reply) => {
    let e: AdminError;
    if (err instanceof AdminError) e = err;
    else if (err instanceof SourceEditError) e = new AdminError(err.code, err.message, err.fields ? { fields: err.fields } : {});
    else if (err instanceof ZodError) e = validationError(err.issues);
    else if ((err as { validation?: unknown }).validation || (err as { statusCode?: number }).statusCode === 400) {
      e = new AdminError('VALIDATION', (err as Error).message);
    } else if ((err as { statusCode?: number }).statusCode === 415 || (err as { statusCode?: number }).statusCode === 413) {
      e = new AdminError('VALIDATION', (err as Error).message);
    } else {
      ctx.log.error({ err, url: req.url.split('?')[0] }, 'admin request failed');
      e = new AdminError('INTERNAL', 'internal error; see the server log');
    }
    if (e.extra.retryAfterSeconds) reply.header('retry-after', String(e.extra.retryAfterSeconds));
    return reply.code(e.status).send({ error: e.code, message: e.message, ...(e.extra.fields ? { fields: e.extra.fields } : {}) });
  });

  app.addHook('onSend', async (_req, reply, payload) => {
    reply.header('x-content-type-options', 'nosniff');
    reply.header('referrer-policy', 'no-referrer');
    reply.header('x-frame-options', 'DENY');
    reply.header('content-security-policy', "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'");
    return payload;
  });

  // Host and request target first, then the matched route's own rule: public by declaration, else a principal
  // (and the CSRF token for a cookie session's state change). Hosts are read from the live configuration.
  let hostsFor: { config: AdminContext['config']; hosts: AdminHosts } | undefined;
  installRouteGuard(app, {
    auth: ctx.auth,
    hosts: () => {
      const config = ctx.config;
      if (hostsFor?.config !== config) hostsFor = { config, hosts: adminHostsOf(config) };
      return hostsFor.hosts;
    },
  });

  const routes = adminRoutes(ctx);
  registerApiRoutes(app, routes);
  const document = openApiDocument(routes, apiError);
  app.get('/api/openapi.json', { config: { public: true } }, async () => document);

  app.addHook('onSend', async (req, reply, payload) => {
    if (!req.url.startsWith('/api/')) reply.header('cache-control', 'no-cache');
    return payload;
  });
  // The web UI's files are public: the page asks for a login through the API. Declared so in their own scope.
  const root = options.webDir ?? webRoot();
  await app.register(async (ui) => {
    ui.addHook('onRoute', (r) => {
      r.config = { ...(r.config as object | undefined), public: true };
    });
    await ui.register(fastifyStatic, { root, index: ['index.html'], wildcard: false, serve: true, cacheControl: false });
  });

  app.setNotFoundHandler(async (req, reply) => {
    if (req.url === '/' || req.url.startsWith('/index.html')) {
      return reply.code(503).type('text/plain').send('The admin web UI is not built: run `npm run build`.\n');
    }
    return reply.code(404).send({ error: 'NOT_FOUND', message: `no route ${req.method} ${req.url.split('?')[0]}` });
  });

  return app;
}

/** The host names the admin answers to, from the configuration (admin-hosts.ts). */
export function adminHostsOf(config: AdminContext['config']): AdminHosts {
  return new AdminHosts({
    ...(config.listen.admin ? { listen: config.listen.admin } : {}),
    ...(config.publicUrl ? { publicUrl: config.publicUrl } : {}),
    hosts: config.admin.hosts,
  });
}
