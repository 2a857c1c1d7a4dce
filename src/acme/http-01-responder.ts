// Answers HTTP-01 challenges (RFC 8555 8.3): GET /.well-known/acme-challenge/<token> returns the key
// authorization as text/plain. Everything else is 404: this listener serves nothing but challenges.
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import type acme from 'acme-client';
import { parseListenAddress } from '../server/listen-address.js';
import type { ChallengeResponder } from './challenge-responder.js';
import { requestAuthority } from '../server/request-authority.js';
import { http } from '../server/node-http.js';

const prefix = '/.well-known/acme-challenge/';

export class Http01Responder implements ChallengeResponder {
  readonly type = 'http-01';
  private readonly answers = new Map<string, string>();
  private server: Server | undefined;
  /** Challenge requests answered with a key authorization, for logs and tests. */
  answered = 0;

  constructor(private readonly log: Logger) {}

  async set(_authz: acme.Authorization, token: string, keyAuthorization: string): Promise<void> {
    this.answers.set(token, keyAuthorization);
  }

  clear(_authz: acme.Authorization, token: string): void {
    this.answers.delete(token);
  }

  async listen(address: string): Promise<string> {
    const { host, port } = parseListenAddress(address);
    const server = http.createServer((req, res) => {
      const path = (req.url ?? '').split('?')[0] ?? '';
      const answer = req.method === 'GET' && path.startsWith(prefix) ? this.answers.get(path.slice(prefix.length)) : undefined;
      if (answer === undefined) {
        res.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
        return;
      }
      this.answered++;
      this.log.info({ host: requestAuthority(req).authority?.value, remote: req.socket.remoteAddress }, 'answered an HTTP-01 challenge');
      res.writeHead(200, { 'content-type': 'text/plain' }).end(answer);
    });
    this.server = server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen({ host, port }, () => {
        server.off('error', reject);
        resolve();
      });
    });
    const bound = server.address() as AddressInfo;
    return `http://${bound.family === 'IPv6' ? `[${bound.address}]` : bound.address}:${bound.port}`;
  }

  async close(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    if (!server) return;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}
