// What a mirror use case answers: status, headers and a body the edge writes as is. Edge-neutral, so the
// use cases never touch fastify.
import type { Readable } from 'node:stream';
import type { RemoteRegistry } from './remote-registry.js';
import type { RepositoryName } from '../registry/names.js';
import type { TransferHold } from '../access/transfer-slot.js';

export interface RegistryReply {
  status: number;
  headers: Record<string, string>;
  /** Absent for HEAD and 304. A stream errors (never ends cleanly) when its bytes turn out wrong. */
  body?: Buffer | Readable;
}

/** Everything a pull use case needs to know about the request, resolved by the edge. */
export interface PullContext {
  upstream: RemoteRegistry;
  repository: RepositoryName;
  /** The repository path as the client sent it (with any registry prefix), for mirror-relative links. */
  clientPath: string;
  /** The client's `ns`, echoed into rewritten links. */
  ns?: string;
  /** passthrough mode: the client's Authorization header. */
  clientAuthorization?: string;
  /** passthrough mode: the mirror's token endpoint for this upstream, put into rewritten challenges. */
  tokenRealm: string;
  signal: AbortSignal;
  /** The client's transfer slot, when its transfers are limited: a fill the request starts keeps it taken. */
  transfer?: TransferHold;
  /** Filled in by the use case for the access log. */
  log: PullLog;
}

export interface PullLog {
  upstreamStatus?: number;
  upstreamMs?: number;
  /** HIT, MISS, COALESCED (followed another fill), PEER (followed another replica's fill), REVALIDATED, STALE, PASS
   * (not cacheable), or REDIRECT (a hit sent to the object store). */
  cache?: 'HIT' | 'MISS' | 'COALESCED' | 'PEER' | 'REVALIDATED' | 'STALE' | 'PASS' | 'REDIRECT';
  /** REDIRECT: the bytes the client was sent to fetch from the object store (not bytes the mirror sent). */
  redirectedBytes?: number;
  /** Under a signature policy: the verdict and its signers or reason (docs/signatures.md). */
  signature?: string;
  /** A segmented fill this request started: its segments and resumes so far (read when the line is written). */
  fill?: { segments: number; resumes: number };
}
