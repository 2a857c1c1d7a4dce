// Backends for TLS passthrough tests: a TLS server with its own certificate that echoes with its name, and plain
// TCP servers that see exactly the bytes Pullgate forwards (the ClientHello included), on loopback port 0.
import { once } from 'node:events';
import { createServer as createNetServer, connect, type AddressInfo, type Server, type Socket } from 'node:net';
import { Duplex } from 'node:stream';
import { createServer as createTlsServer, type TLSSocket } from 'node:tls';

export interface Backend {
  port: number;
  /** `127.0.0.1:PORT`, a passthrough route's `to`. */
  to: string;
  connections: number;
  close(): Promise<void>;
}

async function listen(server: Server, sockets: Set<Socket>): Promise<Backend & { server: Server }> {
  server.on('connection', (s: Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  const backend = {
    server,
    port,
    to: `127.0.0.1:${port}`,
    connections: 0,
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
  server.on('connection', () => backend.connections++);
  return backend;
}

/** Answers each line with `<name> <servername> <line>`; negotiates ALPN `x-backend` when offered. */
export function startTlsEcho(name: string, tls: { certPem: string; keyPem: string }): Promise<Backend> {
  const server = createTlsServer({ cert: tls.certPem, key: tls.keyPem, ALPNProtocols: ['x-backend'] }, (socket: TLSSocket) => {
    socket.on('error', () => undefined);
    let pending = '';
    socket.on('data', (d: Buffer) => {
      pending += d.toString('utf8');
      let nl: number;
      while ((nl = pending.indexOf('\n')) !== -1) {
        socket.write(`${name} ${socket.servername || '-'} ${pending.slice(0, nl)}\n`);
        pending = pending.slice(nl + 1);
      }
    });
    socket.on('end', () => socket.end());
  });
  return listen(server, new Set());
}

/** A plain TCP server: `onSocket` gets each raw connection (allowHalfOpen, so a FIN can still be answered). */
export function startRawBackend(onSocket: (socket: Socket) => void): Promise<Backend> {
  const server = createNetServer({ allowHalfOpen: true }, (s) => {
    s.on('error', () => undefined);
    onSocket(s);
  });
  return listen(server, new Set());
}

/**
 * A TCP connection whose writes leave one byte at a time, each in its own segment (no Nagle, one write per turn of
 * the event loop): what a hostile or very slow client does to the ClientHello. Usable as `tls.connect({ socket })`.
 */
export function tricklingConnection(port: number, host = '127.0.0.1'): Duplex & { writes: number } {
  const socket = connect({ port, host, noDelay: true });
  const duplex = Object.assign(
    new Duplex({
      write(chunk: Buffer, _encoding, done) {
        let i = 0;
        const next = (): void => {
          if (i >= chunk.length || socket.destroyed) return done();
          socket.write(chunk.subarray(i, i + 1));
          duplex.writes++;
          i++;
          setImmediate(next);
        };
        next();
      },
      read() {
        socket.resume();
      },
      final(done) {
        socket.end();
        done();
      },
      destroy(err, done) {
        socket.destroy();
        done(err);
      },
    }),
    { writes: 0 },
  );
  socket.on('data', (d: Buffer) => {
    if (!duplex.push(d)) socket.pause();
  });
  socket.on('end', () => duplex.push(null));
  socket.on('error', (err) => duplex.destroy(err));
  return duplex;
}
