// HTTPS servers (or plain HTTP ones, for a downgrade) on OS-chosen loopback ports, and free ports for child processes that cannot listen on 0.
import { createServer as createHttpsServer } from 'node:https';
import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createNetServer } from 'node:net';

export interface HttpsListener {
  server: Server;
  /** `https://HOST:PORT` (`http://` without TLS), with IPv6 hosts bracketed. */
  url: string;
  /** `HOST:PORT`. */
  hostPort: string;
  port: number;
  close(): Promise<void>;
}

export type RequestHandler = (req: IncomingMessage, res: ServerResponse) => void | Promise<void>;

const bracket = (host: string): string => (host.includes(':') ? `[${host}]` : host);

/** Without `tls`, a plain HTTP server (a CDN reached over plain http, for downgrade tests). */
export async function listenHttps(
  tls: { certPem: string; keyPem: string } | undefined,
  host: string,
  handler: RequestHandler,
): Promise<HttpsListener> {
  const handle = (req: IncomingMessage, res: ServerResponse): void => {
    Promise.resolve(handler(req, res)).catch((err: unknown) => {
      if (!res.headersSent) res.writeHead(500, { 'content-type': 'text/plain' });
      res.end(`test server error: ${String(err)}`);
    });
  };
  const server: Server = tls ? createHttpsServer({ cert: tls.certPem, key: tls.keyPem }, handle) : createHttpServer(handle);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('https server has no TCP address');
  const hostPort = `${bracket(host)}:${address.port}`;
  return {
    server,
    url: `${tls ? 'https' : 'http'}://${hostPort}`,
    hostPort,
    port: address.port,
    close: () =>
      new Promise<void>((resolve) => {
        // Keep-alive clients would hold close() open forever otherwise.
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/**
 * Asks the OS for a free port and releases it, for programs (docker-registry) that need a port number
 * up front. Another process may take it in between: callers retry on "address already in use".
 */
export async function freePort(host = '127.0.0.1'): Promise<number> {
  const probe = createNetServer();
  await new Promise<void>((resolve, reject) => {
    probe.once('error', reject);
    probe.listen(0, host, resolve);
  });
  const address = probe.address();
  await new Promise<void>((resolve) => probe.close(() => resolve()));
  if (address === null || typeof address === 'string') throw new Error('probe socket has no TCP address');
  return address.port;
}
