// Streams an in-progress fill from the replica (or worker) that holds its lease (its PeerServer), signed with
// PeerAuth. Read as a direct GET (src/upstream/direct/direct-get.ts), as an upstream's blob is: the following fill
// copies each read into its own batches, where undici would hand over a new buffer per socket read, garbage outside
// the heap that grew by tens of megabytes a second until a collection (docs/operating.md, "Memory").
import type { Readable } from 'node:stream';
import type { Digest } from '../registry/digest.js';
import { directGet } from '../upstream/direct/direct-get.js';
import type { DirectConnect } from '../upstream/direct/direct-connect.js';
import { DirectPool } from '../upstream/direct/direct-pool.js';
import { peerAuthHeader, type PeerAuth } from './peer-auth.js';

export type PeerAnswer =
  | { kind: 'streaming'; size: number; body: Readable }
  /** The holder has no such fill (over, failed, or never started there). */
  | { kind: 'not-running' }
  /** No HTTP answer (the holder died, or its advertise address is wrong) or a refusal. */
  | { kind: 'unreachable'; reason: string };

export interface PeerClientOptions {
  auth: PeerAuth;
  connectMs: number;
  /** The holder may still be waiting for its upstream's headers. */
  headersMs: number;
  idleMs: number;
}

/** Peers are dialled as configured (cluster.advertise): the system's trust for https, no private-address guard. */
const peerConnect: DirectConnect = { rejectUnauthorized: true };

/** The first characters of a refusal's body, for the log. */
async function reasonOf(body: Readable): Promise<string> {
  let text = '';
  try {
    for await (const chunk of body as AsyncIterable<Buffer>) {
      text += chunk.toString('utf8');
      if (text.length >= 200) break;
    }
  } catch {
    // The reason is only for the log.
  }
  body.destroy();
  return text.slice(0, 200);
}

export class PeerClient {
  private readonly pool = new DirectPool({ idleMs: 30_000 });
  /** Ends every follow still in flight at close(): nothing of this client keeps a shutting-down process alive. */
  private readonly closing = new AbortController();

  constructor(private readonly o: PeerClientOptions) {}

  async follow(owner: string, digest: Digest): Promise<PeerAnswer> {
    const path = `/fills/${digest}`;
    let answer;
    try {
      const url = new URL(`${owner}${path}`);
      const headers = { [peerAuthHeader]: this.o.auth.sign('GET', path, owner) };
      answer = await directGet({ url, headers, connect: peerConnect, timeouts: { connect: this.o.connectMs, headers: this.o.headersMs, idle: this.o.idleMs }, pool: this.pool, signal: this.closing.signal });
    } catch (err) {
      return { kind: 'unreachable', reason: (err as Error).message };
    }
    if (answer.kind === 'not-direct') {
      // Its body unread (the connection is closed): a 404 says as much without one (a proxy in front may chunk it).
      if (answer.status === 404) return { kind: 'not-running' };
      return { kind: 'unreachable', reason: `peer answered ${answer.status} without a length (${answer.reason})` };
    }
    const { status, headers, body } = answer;
    if (status === 404) {
      await body.dump();
      return { kind: 'not-running' };
    }
    const size = Number(headers['content-length']);
    if (status !== 200 || !Number.isSafeInteger(size) || size < 0) {
      return { kind: 'unreachable', reason: `peer answered ${status}: ${await reasonOf(body)}` };
    }
    return { kind: 'streaming', size, body };
  }

  /** Closes the kept connections and ends the follows in flight (a body being read ends with an error). */
  close(): Promise<void> {
    this.closing.abort(new Error('peer client closed'));
    this.pool.close();
    return Promise.resolve();
  }
}
