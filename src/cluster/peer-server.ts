// The internal endpoint (cluster.listen): another replica that lost the claim on a blob's fill streams the growing
// fill from here instead of going upstream. It serves only fills in flight, only to peers (PeerAuth), and ends a
// transfer cleanly only once this replica has verified the whole blob; a failed fill aborts it.
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { pipeline, type Readable } from 'node:stream';
import type { Logger } from 'pino';
import { isDigestLike, parseDigest, type Digest } from '../registry/digest.js';
import type { BlobFill } from '../mirror/blob-fill.js';
import { parseListenAddress } from '../server/listen-address.js';
import { peerAuthHeader, type PeerAuth } from './peer-auth.js';
import type { PeerAnswer } from './peer-client.js';
import { http } from '../server/node-http.js';
import { isPositionalBody } from '../cache/file-body.js';
import { sendFileBody } from '../server/send-file.js';

export interface PeerServerOptions {
  fills: { get(digest: Digest): { fill: Promise<BlobFill> } | undefined };
  /** Only checks signatures (a worker's endpoint gets its verifier once its port is bound). */
  auth: Pick<PeerAuth, 'verify'>;
  log: Logger;
  /**
   * A fill not in flight in this process, as another process of this replica has it: the workers of a replica share
   * its endpoint, and a peer's request may land on one that does not hold the fill (docs/workers.md, "Workers of a
   * replica").
   */
  relay?: (digest: Digest) => Promise<PeerAnswer>;
}

/** Answers with a small JSON body whose code the peer client reads (never shown to registry clients). */
function refuse(res: ServerResponse, status: number, code: string, message: string): void {
  const body = JSON.stringify({ errors: [{ code, message }] });
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
  res.end(body);
}

/**
 * The head of a transfer, set with setHeader: headers given to writeHead alone cannot be read back, and send-file.ts
 * picks its first buffer by the Content-Length it reads.
 */
function blobHead(res: ServerResponse, size: number, digest: Digest): void {
  res.setHeader('content-type', 'application/octet-stream');
  res.setHeader('content-length', String(size));
  res.setHeader('docker-content-digest', digest);
  res.writeHead(200);
}

export class PeerServer {
  readonly server: Server;
  private transfers = 0;

  constructor(private readonly o: PeerServerOptions) {
    // Nothing a request does may end the process: an unexpected failure is logged and the request answered 500.
    this.server = http.createServer((req, res) => {
      this.handle(req, res).catch((err: unknown) => {
        this.o.log.error({ err, url: req.url }, 'internal endpoint request failed');
        if (!res.headersSent) refuse(res, 500, 'PEER_FAILED', 'internal error');
        else res.destroy();
      });
    });
    this.server.keepAliveTimeout = 60_000;
  }

  /** Transfers to other replicas right now. */
  get active(): number {
    return this.transfers;
  }

  async listen(address: string): Promise<AddressInfo> {
    const { host, port } = parseListenAddress(address);
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(port, host, () => {
        this.server.off('error', reject);
        resolve();
      });
    });
    return this.server.address() as AddressInfo;
  }

  async close(): Promise<void> {
    if (!this.server.listening) return;
    await new Promise<void>((resolve) => {
      this.server.close(() => resolve());
      this.server.closeAllConnections();
    });
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = (req.url ?? '').split('?')[0] ?? '';
    if (!this.o.auth.verify(req.method ?? '', path, req.headers[peerAuthHeader] as string | undefined)) {
      refuse(res, 401, 'PEER_UNAUTHORIZED', 'not a replica of this cluster (missing, stale or wrong signature)');
      return;
    }
    const m = /^\/fills\/([^/]+)$/.exec(path);
    let name = '';
    try {
      name = m ? decodeURIComponent(m[1]!) : '';
    } catch {
      refuse(res, 400, 'PEER_BAD_REQUEST', 'the path is not valid percent-encoding');
      return;
    }
    if (req.method !== 'GET' || !isDigestLike(name)) {
      refuse(res, 404, 'PEER_NOT_FOUND', 'GET /fills/<digest> only');
      return;
    }
    let digest: Digest;
    try {
      digest = parseDigest(name);
    } catch {
      // Shaped like a digest, yet not one (an unknown algorithm, a bad encoding).
      refuse(res, 400, 'PEER_BAD_REQUEST', `not a digest: ${name.slice(0, 200)}`);
      return;
    }
    const pending = this.o.fills.get(digest)?.fill;
    if (!pending && this.o.relay) return this.relayed(res, digest, await this.o.relay(digest));
    let fill: BlobFill | undefined;
    try {
      fill = await pending;
    } catch {
      fill = undefined; // the fill's upstream request failed: the peer asks again (and gets the upstream's answer itself)
    }
    const reader = fill?.reader({ start: 0, end: Math.max(0, fill.size - 1) });
    if (!fill || !reader || fill.state === 'failed') {
      reader?.destroy();
      refuse(res, 404, 'FILL_NOT_RUNNING', `no fill of ${digest} in flight here`);
      return;
    }
    this.transfers++;
    blobHead(res, fill.size, digest);
    if (fill.size === 0) {
      reader.destroy();
      await fill.finished;
      if ((fill.state as BlobFill['state']) === 'failed') res.destroy();
      else res.end();
      this.transfers--;
      return;
    }
    this.send(res, digest, reader);
  }

  /**
   * A fill's reader goes out as a cache hit does, from the send buffers or the fill's own batches (send-file.ts): read
   * as a stream it would make a buffer per chunk, megabytes of garbage a second outside the heap. A relayed answer
   * is a stream.
   */
  private send(res: ServerResponse, digest: Digest, body: Readable): void {
    const done = (err: Error | null | undefined): void => {
      this.transfers--;
      if (err && err.message !== 'Premature close') this.o.log.debug({ err: err.message, digest }, 'peer transfer ended early');
    };
    if (isPositionalBody(body)) sendFileBody(res, body, done);
    else pipeline(body, res, done);
  }

  /**
   * Another process's answer passed on: its stream as it comes (cut when it is cut, so the peer never takes a short
   * transfer for a whole one), "not running" as such, and a holder that cannot be reached as 503, which the peer
   * reads as "wait for the lease" (cluster-fills.ts).
   */
  private relayed(res: ServerResponse, digest: Digest, answer: PeerAnswer): void {
    if (answer.kind === 'not-running') return refuse(res, 404, 'FILL_NOT_RUNNING', `no fill of ${digest} in flight here`);
    if (answer.kind === 'unreachable') return refuse(res, 503, 'FILL_HOLDER_UNREACHABLE', `the worker holding ${digest} does not answer`);
    this.transfers++;
    blobHead(res, answer.size, digest);
    this.send(res, digest, answer.body);
  }
}
