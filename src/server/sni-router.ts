// The HTTPS port's front door (docs/clients.md, "TLS"): reads each connection's ClientHello without consuming it, then
// pipes the still-encrypted bytes to a passthrough backend, hands the socket to the mirror's TLS server, or refuses it.
// A hello that is malformed, too large or too slow costs a bounded buffer and a bounded wait, then the socket.
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import type { Logger } from 'pino';
import { parseClientHello } from './client-hello.js';
import type { SniRoute, SniRoutes } from './sni-routes.js';
import { pipeToBackend, tlsAlert, type CloseReason, type Pipe, type PipeResult } from './tls-passthrough.js';

export type UnknownSni = 'default' | 'refuse';

/** Says whether a passthrough connection may go ahead; the CIDR rules plug in here. */
export type AdmitPassthrough = (remoteAddress: string | undefined, sni: string) => boolean;

export interface SniRouterOptions {
  routes: SniRoutes;
  /** Takes a socket whose ClientHello is still unread: the mirror's TLS server. */
  terminate(socket: Socket): void;
  /** Whether one of the mirror's certificates names this host. */
  servesName(sni: string): boolean;
  /** A name nobody serves, or no name at all: the first certificate, or a TLS alert. */
  unknownSni: UnknownSni;
  helloTimeoutMs: number;
  connectTimeoutMs: number;
  /** A passthrough pipe with no bytes either way for this long is closed. */
  idleTimeoutMs: number;
  admit?: AdmitPassthrough;
  log: Logger;
  clock?: () => number;
}

export interface RouteStats {
  sni: string;
  to: string;
  connections: number;
  active: number;
  bytesIn: number;
  bytesOut: number;
  denied: number;
  closes: Partial<Record<CloseReason, number>>;
}

export interface SniRouterStats {
  terminated: number;
  refused: number;
  /** Connections dropped before a usable ClientHello, by reason. */
  dropped: Record<string, number>;
  routes: RouteStats[];
}

// RFC 8446 s6.2 alert descriptions.
const alertAccessDenied = 49;
const alertUnrecognizedName = 112;

export class SniRouter {
  readonly server: Server;
  private readonly peeking = new Set<Socket>();
  /** Handed to the TLS server; net.Server.close() waits for them, so close() ends them as fastify would. */
  private readonly terminated = new Set<Socket>();
  private readonly pipes = new Set<Pipe>();
  private readonly counters = { terminated: 0, refused: 0, dropped: {} as Record<string, number> };
  private readonly perRoute = new Map<string, RouteStats>();
  private readonly clock: () => number;

  constructor(private readonly o: SniRouterOptions) {
    this.clock = o.clock ?? Date.now;
    // Half-open sockets are needed for passthrough; a socket handed to TLS gets the default back.
    this.server = createServer({ allowHalfOpen: true }, (socket) => this.accept(socket));
  }

  async listen(host: string, port: number): Promise<AddressInfo> {
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen({ host, port }, () => {
        this.server.off('error', reject);
        resolve();
      });
    });
    return this.server.address() as AddressInfo;
  }

  /** Stops accepting and ends connections still being read and every passthrough pipe. */
  async close(): Promise<void> {
    const closed = this.server.listening ? new Promise<void>((resolve) => this.server.close(() => resolve())) : Promise.resolve();
    for (const socket of this.peeking) socket.destroy();
    for (const socket of this.terminated) socket.destroy();
    for (const pipe of this.pipes) pipe.abort();
    await closed;
  }

  stats(): SniRouterStats {
    return {
      terminated: this.counters.terminated,
      refused: this.counters.refused,
      dropped: { ...this.counters.dropped },
      routes: [...this.perRoute.values()].map((r) => ({ ...r, closes: { ...r.closes } })),
    };
  }

  private accept(socket: Socket): void {
    this.peeking.add(socket);
    // One buffer that doubles as needed: a hello trickling in byte by byte costs linear time, not quadratic.
    let buffer = Buffer.allocUnsafe(4096);
    let size = 0;
    let needed = 0;
    const done = (): void => {
      clearTimeout(timer);
      this.peeking.delete(socket);
      socket.off('data', onData);
      socket.off('end', onEnd);
    };
    const drop = (reason: string): void => {
      done();
      this.counters.dropped[reason] = (this.counters.dropped[reason] ?? 0) + 1;
      this.o.log.debug({ remote: socket.remoteAddress, reason }, 'TLS connection dropped before routing');
      socket.destroy();
    };
    const onData = (chunk: Buffer): void => {
      if (size + chunk.length > buffer.length) {
        const grown = Buffer.allocUnsafe(Math.max(buffer.length * 2, size + chunk.length));
        buffer.copy(grown, 0, 0, size);
        buffer = grown;
      }
      chunk.copy(buffer, size);
      size += chunk.length;
      if (size < needed) return;
      const head = buffer.subarray(0, size);
      const r = parseClientHello(head);
      if (r.kind === 'incomplete') {
        needed = r.needed;
        return;
      }
      if (r.kind === 'invalid') return drop(r.reason);
      done();
      socket.pause();
      this.route(socket, head, r.sni, r.alpn);
    };
    const onEnd = (): void => drop('closed before ClientHello');
    const timer = setTimeout(() => drop('ClientHello timeout'), this.o.helloTimeoutMs);
    // A listener closed meanwhile must not be kept alive by the timers of sockets it ended.
    timer.unref();
    socket.once('close', () => clearTimeout(timer));
    socket.on('data', onData);
    socket.on('end', onEnd);
    // Errors while peeking (a reset) end the socket; later owners add their own handlers.
    socket.on('error', () => {
      if (this.peeking.has(socket)) drop('socket error before ClientHello');
    });
  }

  private route(socket: Socket, head: Buffer, sni: string | undefined, alpn: string[]): void {
    const route = this.o.routes.match(sni);
    if (route && sni !== undefined) return this.passthrough(socket, head, route, sni, alpn);
    if ((sni !== undefined && this.o.servesName(sni)) || this.o.unknownSni === 'default') {
      this.counters.terminated++;
      socket.allowHalfOpen = false;
      // The TLS server reads what is in the socket's buffer before its own reads (node's tls initRead).
      socket.unshift(head);
      this.terminated.add(socket);
      socket.once('close', () => this.terminated.delete(socket));
      this.o.terminate(socket);
      return;
    }
    this.counters.refused++;
    this.o.log.debug({ remote: socket.remoteAddress, sni }, 'TLS connection refused: unknown server name');
    socket.end(tlsAlert(alertUnrecognizedName));
  }

  private passthrough(socket: Socket, head: Buffer, route: SniRoute, sni: string, alpn: string[]): void {
    const stats = this.statsFor(route);
    const remote = socket.remoteAddress;
    if (this.o.admit && !this.o.admit(remote, sni)) {
      stats.denied++;
      this.o.log.info({ sni, remote, route: route.sni, backend: route.to, close: 'denied' }, 'passthrough');
      socket.end(tlsAlert(alertAccessDenied));
      return;
    }
    stats.connections++;
    stats.active++;
    const pipe = pipeToBackend(socket, head, route.backend, {
      connectTimeoutMs: this.o.connectTimeoutMs,
      idleTimeoutMs: this.o.idleTimeoutMs,
      clock: this.clock,
      onClose: (r: PipeResult) => {
        this.pipes.delete(pipe);
        stats.active--;
        stats.bytesIn += r.bytesIn;
        stats.bytesOut += r.bytesOut;
        stats.closes[r.reason] = (stats.closes[r.reason] ?? 0) + 1;
        const line = { sni, alpn, remote, route: route.sni, backend: route.to, bytesIn: r.bytesIn, bytesOut: r.bytesOut, ms: Math.round(r.ms), close: r.reason, error: r.error };
        // A backend that cannot be reached or fails is the operator's business; clients that go away are not.
        const backendTrouble = r.reason === 'connect-failed' || r.reason === 'connect-timeout' || r.reason === 'backend-error';
        (backendTrouble ? this.o.log.warn : this.o.log.info).call(this.o.log, line, 'passthrough');
      },
    });
    this.pipes.add(pipe);
  }

  private statsFor(route: SniRoute): RouteStats {
    const key = `${route.sni} ${route.to}`;
    let s = this.perRoute.get(key);
    if (!s) {
      s = { sni: route.sni, to: route.to, connections: 0, active: 0, bytesIn: 0, bytesOut: 0, denied: 0, closes: {} };
      this.perRoute.set(key, s);
    }
    return s;
  }
}
