// The registry API on the mirror's listeners: `/v2/...` (dispatch.ts), the mirror's own token endpoint
// (token-endpoint.ts) and the passthrough token realm (token-relay.ts). Routing and use cases live elsewhere;
// these files only translate HTTP to them and back, and every request is admitted in admission.ts.
import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import { tokenPath, type AccessControl } from '../../access/access-control.js';
import type { Metrics } from '../../metrics/metrics.js';
import type { MirrorServices } from '../../mirror/services.js';
import { RegistryError } from '../../registry/errors.js';
import type { UpstreamRouter } from '../../upstream/router.js';
import type { RequestObserver } from '../access-log.js';
import type { MirrorNames } from '../mirror-names.js';
import { Admission } from './admission.js';
import { registryDispatcher } from './dispatch.js';
import { clientOrigin } from './origin.js';
import { tokenEndpoint } from './token-endpoint.js';
import { tokenRelay } from './token-relay.js';

export interface RegistryRoutesOptions {
  router: () => UpstreamRouter;
  services: MirrorServices;
  log: Logger;
  /** The scheme clients reached this listener with (before any load balancer). */
  scheme: 'http' | 'https';
  /** The names the mirror is known by: realms are built from them. */
  names: MirrorNames;
  onFinished?: RequestObserver;
  /** Who may pull what; absent: everyone, everything (tests of other concerns). */
  access?: AccessControl;
  metrics?: Metrics;
}

const writeMethods = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

export function registerRegistryRoutes(app: FastifyInstance, o: RegistryRoutesOptions): void {
  const admission = new Admission(o.access);
  const origin = clientOrigin(o.names, o.scheme);

  // Pushes never reach a pull mirror; answered before any body is read (docs/protocol.md, "Pushes").
  app.addHook('onRequest', async (req, reply) => {
    reply.header('docker-distribution-api-version', 'registry/2.0');
    if (writeMethods.has(req.method) && (req.url === '/v2' || req.url.startsWith('/v2/'))) {
      throw new RegistryError('UNSUPPORTED', 'this is a pull-through mirror; pushes and deletes are not accepted');
    }
  });

  const v2 = registryDispatcher({
    router: o.router,
    services: o.services,
    admission,
    origin,
    sinks: { log: o.log, ...(o.onFinished ? { onFinished: o.onFinished } : {}), ...(o.metrics ? { metrics: o.metrics } : {}) },
  });
  app.route({ method: ['GET', 'HEAD'], url: '/v2', handler: v2 });
  app.route({ method: ['GET', 'HEAD'], url: '/v2/*', handler: v2 });

  // Token requests may carry a form (OAuth2 password grant, or relayed to a passthrough upstream).
  app.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string', bodyLimit: 64 * 1024 }, (_req, body, done) => {
    done(null, new URLSearchParams(String(body)));
  });
  app.route({ method: ['GET', 'POST'], url: tokenPath, handler: tokenEndpoint({ access: o.access, admission, log: o.log }) });
  app.route({ method: ['GET', 'POST'], url: '/token/:upstream', handler: tokenRelay({ router: o.router, admission, origin, log: o.log }) });
}
