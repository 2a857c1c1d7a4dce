// The registry-facing listeners: plain HTTP (behind a load balancer) and HTTPS with SNI, h2 + http/1.1 by ALPN.
// Each is its own fastify instance over the same routes; both build without listening, so tests can inject.
import { createServer as createHttpServer, type Server } from 'node:http';
import { createSecureServer, type ServerHttp2Session } from 'node:http2';
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance, type FastifyReply } from 'fastify';
import type { Logger } from 'pino';
import type { MirrorServices } from '../mirror/services.js';
import type { UpstreamRouter } from '../upstream/router.js';
import { offerAcmeTlsAlpn, type CertificateStore } from './certificates.js';
import type { Metrics } from '../metrics/metrics.js';
import { RegistryError } from '../registry/errors.js';
import { errorReply } from './error-reply.js';
import type { AccessControl } from '../access/access-control.js';
import type { RequestObserver } from './access-log.js';
import type { MirrorNames } from './mirror-names.js';
import { registerRegistryRoutes } from './registry-routes.js';
import { requestAuthority } from './request-authority.js';

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

/** Request head limit: absurd headers get 431 with an OCI error body, before any routing. */
export const maxHeaderBytes = 32 * 1024;

export function buildRegistryServer(o: RegistryServerOptions): FastifyInstance {
  const scheme = o.certificates ? 'https' : 'http';
  const sessions = new Set<ServerHttp2Session>();
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
    // Set on the servers below (serverFactory): inactivity, not a deadline.
    connectionTimeout: 0,
    bodyLimit: 1024 * 1024,
    routerOptions: { ignoreTrailingSlash: false, maxParamLength: 2048 },
    serverFactory: (handler) => {
      if (o.certificates) {
        const certs = o.certificates;
        // h2 and http/1.1 by ALPN; the certificate by SNI, the first one for clients that send no SNI.
        const server = createSecureServer(
          { ...certs.defaultPem, allowHTTP1: true, SNICallback: certs.sniCallback, settings: { maxHeaderListSize: maxHeaderBytes } },
          handler as unknown as Parameters<typeof createSecureServer>[1],
        );
        certs.onReload(() => server.setSecureContext(certs.defaultPem));
        if (certs.answersAcmeTlsAlpn) offerAcmeTlsAlpn(server);
        server.on('checkExpectation', handler as unknown as (...args: unknown[]) => void);
        // HTTP/1.1 connections on this server follow the same keep-alive rules as on the plain listener; an h2
        // session without open streams closes after the same time, and all of them close when the listener does.
        // The session's inactivity timer stays the server's (dropWhenIdle below): a stream stalled by a client that
        // stops reading is cut after access.clientIdleTimeout, as a stalled HTTP/1.1 connection is.
        Object.assign(server, { keepAliveTimeout: o.keepAliveMs, headersTimeout: o.keepAliveMs + 5_000, requestTimeout: 0 });
        server.on('session', (session) => {
          sessions.add(session);
          let open = 0;
          let idle: NodeJS.Timeout | undefined;
          const keepAlive = () => {
            idle = setTimeout(() => session.close(), o.keepAliveMs);
            idle.unref();
          };
          keepAlive();
          session.on('stream', (stream) => {
            open++;
            clearTimeout(idle);
            stream.once('close', () => {
              if (--open === 0 && !session.closed && !session.destroyed) keepAlive();
            });
          });
          session.on('close', () => {
            clearTimeout(idle);
            sessions.delete(session);
          });
        });
        if (o.clientIdleMs) dropWhenIdle(server, o.clientIdleMs);
        // The compat server has the request/response surface fastify uses.
        return server as unknown as Server;
      }
      // requireHostHeader: Node's own refusal is an empty 400; the hook below refuses with an OCI error instead.
      const server = createHttpServer(
        { maxHeaderSize: maxHeaderBytes, keepAliveTimeout: o.keepAliveMs, headersTimeout: o.keepAliveMs + 5_000, requireHostHeader: false },
        handler,
      );
      // RFC 9110 §10.1.1: an unknown expectation MAY be refused; Node would answer an empty 417, so serve it instead.
      server.on('checkExpectation', handler);
      if (o.clientIdleMs) dropWhenIdle(server, o.clientIdleMs);
      return server;
    },
    // A path whose percent-encoding fastify's router cannot decode still gets an OCI error body.
    frameworkErrors: (err, _req, reply) => {
      const e = errorReply(new RegistryError('REQUEST_INVALID', err.code === 'FST_ERR_BAD_URL' ? 'malformed percent-encoding in the request path' : undefined));
      void (reply as FastifyReply).code(e.status).headers(e.headers).send(e.body);
    },
    // Requests Node's parser refuses (absurd headers, broken framing) still get an OCI error body.
    clientErrorHandler: (err, socket) => {
      if (!socket.writable) return socket.destroy();
      const tooLarge = (err as { code?: string }).code === 'HPE_HEADER_OVERFLOW';
      const e = errorReply(new RegistryError('REQUEST_INVALID', tooLarge ? 'request headers too large' : 'malformed HTTP request'));
      const status = tooLarge ? '431 Request Header Fields Too Large' : '400 Bad Request';
      socket.end(
        `HTTP/1.1 ${status}\r\ncontent-type: application/json; charset=utf-8\r\nconnection: close\r\n` +
          `content-length: ${Buffer.byteLength(e.body)}\r\n\r\n${e.body}`,
      );
    },
  });
  // Like forceCloseConnections for HTTP/1.1: closing the listener ends open h2 sessions too.
  app.addHook('preClose', async () => {
    for (const session of sessions) session.destroy();
  });
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
    scheme,
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

/**
 * A connection (or h2 stream) with no traffic either way for `ms` is destroyed: a client that stopped reading a
 * blob holds no socket, file handle or buffers past it. Explicit, because node leaves a timed-out socket open when
 * anything listens for the response's 'timeout'.
 */
function dropWhenIdle(server: { setTimeout(ms: number): unknown; on(event: 'timeout', listener: (s: { destroy(): void }) => void): unknown }, ms: number): void {
  server.setTimeout(ms);
  server.on('timeout', (socket) => socket.destroy());
}
