// The node servers under the registry's fastify instances: HTTPS with h2 and http/1.1 by ALPN and the certificate
// by SNI, or plain HTTP (behind a load balancer). Both keep connections alive past containers/image's 90 s idle
// timeout (docs/protocol.md, "HTTP versions, keep-alive and timeouts"), cap request heads at the same size, and
// drop clients idle for access.clientIdleTimeout.
import type { Server } from 'node:http';
import { createSecureServer } from 'node:http2';
import type { FastifyServerFactory, FastifyServerFactoryHandler } from 'fastify';
import { offerAcmeTlsAlpn, type CertificateStore } from './certificates.js';
import type { H2Sessions } from './h2-sessions.js';
import { http } from './node-http.js';

/** Request head limit: absurd headers get 431 with an OCI error body, before any routing. */
export const maxHeaderBytes = 32 * 1024;

export interface ListenerOptions {
  keepAliveMs: number;
  /** A client connection with no traffic either way for this long is closed (0 or absent: never). */
  clientIdleMs?: number;
  /** With certificates: the HTTPS listener. */
  certificates?: CertificateStore;
}

type Handler = FastifyServerFactoryHandler<Server>;

export function listenerFactory(o: ListenerOptions, sessions: H2Sessions): FastifyServerFactory<Server> {
  return (handler) => (o.certificates ? tlsListener(handler, o, o.certificates, sessions) : plainListener(handler, o));
}

function tlsListener(handler: Handler, o: ListenerOptions, certs: CertificateStore, sessions: H2Sessions): Server {
  // The first certificate for clients that send no SNI.
  const server = createSecureServer(
    { ...certs.defaultPem, allowHTTP1: true, SNICallback: certs.sniCallback, settings: { maxHeaderListSize: maxHeaderBytes } },
    handler as unknown as Parameters<typeof createSecureServer>[1],
  );
  certs.onReload(() => server.setSecureContext(certs.defaultPem));
  if (certs.answersAcmeTlsAlpn) offerAcmeTlsAlpn(server);
  server.on('checkExpectation', handler as unknown as (...args: unknown[]) => void);
  // HTTP/1.1 connections on this server follow the same keep-alive rules as on the plain listener.
  Object.assign(server, { keepAliveTimeout: o.keepAliveMs, headersTimeout: o.keepAliveMs + 5_000, requestTimeout: 0 });
  sessions.track(server);
  if (o.clientIdleMs) dropWhenIdle(server, o.clientIdleMs);
  // The compat server has the request/response surface fastify uses.
  return server as unknown as Server;
}

function plainListener(handler: Handler, o: ListenerOptions): Server {
  // requireHostHeader: Node's own refusal is an empty 400; registry-server.ts refuses with an OCI error instead.
  const server = http.createServer(
    { maxHeaderSize: maxHeaderBytes, keepAliveTimeout: o.keepAliveMs, headersTimeout: o.keepAliveMs + 5_000, requireHostHeader: false },
    handler,
  );
  // RFC 9110 §10.1.1: an unknown expectation MAY be refused; Node would answer an empty 417, so serve it instead.
  server.on('checkExpectation', handler);
  if (o.clientIdleMs) dropWhenIdle(server, o.clientIdleMs);
  return server;
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
