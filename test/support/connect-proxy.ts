// A forward HTTP proxy on loopback (CONNECT tunnels and absolute-form requests) that records what it carried,
// so tests can prove upstream traffic went through the configured proxy.
import { createServer, request as httpRequest, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { connect } from 'node:net';

export interface ConnectProxy {
  url: string;
  /** `CONNECT host:port` targets and absolute-form request URLs, in order. */
  seen: string[];
  close(): Promise<void>;
}

/**
 * `hosts` maps names to the addresses the proxy dials instead, the way an egress proxy resolves names the mirror
 * itself cannot: a test upstream can then have a public-looking name.
 */
export async function startConnectProxy(options: { hosts?: Record<string, string> } = {}): Promise<ConnectProxy> {
  const seen: string[] = [];
  const mapped = (host: string | undefined) => (host !== undefined ? (options.hosts?.[host] ?? host) : host);
  const server: Server = createServer((req, res) => {
    seen.push(`${req.method} ${req.url}`);
    const target = new URL(req.url ?? '');
    target.hostname = mapped(target.hostname) ?? target.hostname;
    const upstream = httpRequest(target, { method: req.method, headers: req.headers }, (up) => {
      res.writeHead(up.statusCode ?? 502, up.headers);
      up.pipe(res);
    });
    upstream.on('error', () => res.destroy());
    req.pipe(upstream);
  });
  server.on('connect', (req, client, head) => {
    seen.push(`CONNECT ${req.url}`);
    const [host, port] = (req.url ?? '').split(':');
    const upstream = connect(Number(port), mapped(host) ?? '127.0.0.1', () => {
      client.write('HTTP/1.1 200 Connection Established\r\n\r\n');
      upstream.write(head);
      upstream.pipe(client);
      client.pipe(upstream);
    });
    upstream.on('error', () => client.destroy());
    client.on('error', () => upstream.destroy());
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    seen,
    async close() {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    },
  };
}
