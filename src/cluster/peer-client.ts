// Streams an in-progress fill from the replica that holds its lease (its PeerServer), signed with PeerAuth.
import type { Readable } from 'node:stream';
import { Agent, request } from 'undici';
import type { Digest } from '../registry/digest.js';
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

export class PeerClient {
  private readonly agent: Agent;

  constructor(private readonly o: PeerClientOptions) {
    this.agent = new Agent({ connect: { timeout: o.connectMs }, keepAliveTimeout: 30_000, headersTimeout: o.headersMs, bodyTimeout: o.idleMs });
  }

  async follow(owner: string, digest: Digest): Promise<PeerAnswer> {
    const path = `/fills/${digest}`;
    let res;
    try {
      res = await request(`${owner}${path}`, { method: 'GET', headers: { [peerAuthHeader]: this.o.auth.sign('GET', path, owner) }, dispatcher: this.agent });
    } catch (err) {
      return { kind: 'unreachable', reason: (err as Error).message };
    }
    if (res.statusCode === 404) {
      await res.body.dump();
      return { kind: 'not-running' };
    }
    const size = Number(res.headers['content-length']);
    if (res.statusCode !== 200 || !Number.isSafeInteger(size) || size < 0) {
      const text = await res.body.text().catch(() => '');
      return { kind: 'unreachable', reason: `peer answered ${res.statusCode}: ${text.slice(0, 200)}` };
    }
    return { kind: 'streaming', size, body: res.body };
  }

  close(): Promise<void> {
    return this.agent.close();
  }
}
