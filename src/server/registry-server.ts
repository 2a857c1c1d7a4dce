// The registry-facing listeners: plain HTTP (behind a load balancer) and HTTPS with SNI, h2 + http/1.1 by ALPN.
// Each is its own fastify instance over the same routes; both build without listening, so tests can inject.
// The node servers underneath: registry-listeners.ts; the routes: registry/routes.ts.
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance, type FastifyReply } from 'fastify';
import type { Logger } from 'pino';
import type { MirrorServices } from '../mirror/services.js';
import type { UpstreamRouter } from '../upstream/router.js';
import type { CertificateStore } from './certificates.js';
import type { Metrics } from '../metrics/metrics.js';
import { RegistryError } from '../registry/errors.js';
import { errorReply } from './error-reply.js';
import type { AccessControl } from '../access/access-control.js';
import type { RequestObserver } from './access-log.js';
import { H2Sessions } from './h2-sessions.js';
import { clientErrorReply, frameworkErrorReply } from './malformed-requests.js';
import type { MirrorNames } from './mirror-names.js';
import { lazySchemaCompilers } from './lazy-schema-compilers.js';
import { listenerFactory } from './registry-listeners.js';
import { registerRegistryRoutes } from './registry/routes.js';
import { requestAuthority } from './request-authority.js';

export { maxHeaderBytes } from './registry-listeners.js';

export interface RegistryServerOptions {
  router: () => UpstreamRouter;
  services: MirrorServices;
  log: Logger;
  keepAliveMs: number;
  /** The names the mirror is known by (token realms are built from them). */
  names: MirrorNames;
  /** With certificates: the HTTPS listener. */
  certificates?: CertificateStore;
  onFinished?: RequestObserver;
  access?: AccessControl;
  /** A client connection with no traffic either way for this long is closed (0: never). */
  clientIdleMs?: number;
  metrics?: Metrics;
}

export function buildRegistryServer(o: RegistryServerOptions): FastifyInstance {
  const sessions = new H2Sessions(o.keepAliveMs);
  const app = Fastify({
    loggerInstance: o.log as FastifyBaseLogger,
    // Registry requests are logged once, with registry fields, by access-log.ts.
    logController: new LogController({ disableRequestLogging: true }),
    exposeHeadRoutes: false,
    return503OnClosing: false,
    forceCloseConnections: true,
    // Above the 90 s idle timeout of containers/image (docs/protocol.md, "HTTP versions, keep-alive and timeouts");
    // headersTimeout must exceed it.
    keepAliveTimeout: o.keepAliveMs,
    requestTimeout: 0,
    // Set on the servers (registry-listeners.ts): inactivity, not a deadline.
    connectionTimeout: 0,
    bodyLimit: 1024 * 1024,
    routerOptions: { ignoreTrailingSlash: false, maxParamLength: 2048 },
    serverFactory: listenerFactory(o, sessions),
    frameworkErrors: (err, _req, reply) => frameworkErrorReply(err, reply as FastifyReply),
    clientErrorHandler: clientErrorReply,
    schemaController: { compilersFactory: lazySchemaCompilers() },
  });
  // Like forceCloseConnections for HTTP/1.1: closing the listener ends open h2 sessions too.
  app.addHook('preClose', async () => sessions.destroyAll());
  // The authority is validated once, before any route: a missing (HTTP/1.1), repeated, malformed or (h2)
  // contradicting one is a 400 (RFC 9112 §3.2, RFC 9113 §8.3.1).
  app.addHook('onRequest', async (req) => {
    const { malformed } = requestAuthority(req.raw);
    if (malformed) throw new RegistryError('REQUEST_INVALID', malformed);
  });
  registerRegistryRoutes(app, {
    router: o.router,
    services: o.services,
    log: o.log,
    scheme: o.certificates ? 'https' : 'http',
    names: o.names,
    ...(o.onFinished ? { onFinished: o.onFinished } : {}),
    ...(o.access ? { access: o.access } : {}),
    ...(o.metrics ? { metrics: o.metrics } : {}),
  });
  app.setNotFoundHandler(() => {
    throw new RegistryError('NOT_FOUND');
  });
  app.setErrorHandler((err, _req, reply) => {
    const e = errorReply(err);
    if (e.status >= 500) o.log.error({ err }, 'unexpected error');
    return reply.code(e.status).headers(e.headers).send(e.body);
  });
  return app;
}
