// A loopback HTTP/1.1 server (TLS or plain TCP) whose answers are written byte for byte by the test: for the
// shapes no well-behaved server sends (a body shorter or longer than announced, a stalled body, a hostile head).
import { createServer as createTcpServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { createServer as createTlsServer } from 'node:tls';

export interface ScriptedRequest {
  /** The request head as received, up to and including the blank line. */
  head: string;
  socket: Socket;
}

export type Script = (req: ScriptedRequest) => void;

export interface ScriptedServer {
  port: number;
  /** Every request head received, in order. */
  readonly heads: string[];
  /** Connections accepted (a refused dial never gets here). */
  connections: number;
  script: Script;
  close(): Promise<void>;
}

export async function startScriptedServer(options: { tls?: { cert: string; key: string }; host?: string }, script: Script): Promise<ScriptedServer> {
  const sockets = new Set<Socket>();
  const state: ScriptedServer = {
    port: 0,
    heads: [],
    connections: 0,
    script,
    close: () => {
      for (const s of sockets) s.destroy();
      return new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
  const onSocket = (socket: Socket): void => {
    state.connections++;
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => undefined);
    let received = '';
    const onData = (chunk: Buffer): void => {
      received += chunk.toString('latin1');
      const end = received.indexOf('\r\n\r\n');
      if (end < 0) return;
      const head = received.slice(0, end + 4);
      received = received.slice(end + 4);
      state.heads.push(head);
      state.script({ head, socket });
    };
    socket.on('data', onData);
  };
  const server: Server = options.tls
    ? createTlsServer({ cert: options.tls.cert, key: options.tls.key, ALPNProtocols: ['http/1.1'] }, onSocket)
    : createTcpServer(onSocket);
  await new Promise<void>((resolve) => server.listen(0, options.host ?? '127.0.0.1', resolve));
  state.port = (server.address() as AddressInfo).port;
  return state;
}

/** A complete answer with a Content-Length, then the connection is ended. */
export function answer(socket: Socket, status: number, body: Buffer, headers: Record<string, string> = {}): void {
  const lines = [`HTTP/1.1 ${status} X`, `content-length: ${body.length}`, ...Object.entries(headers).map(([k, v]) => `${k}: ${v}`)];
  socket.write(`${lines.join('\r\n')}\r\n\r\n`, 'latin1');
  socket.end(body);
}
