// What the mirror needs of an upstream registry: its name and settings, its auth mode, and requests through it.
// The mirror depends on this interface, never on the client class (upstream/upstream.ts implements it), as
// distribution's proxy depends on its remote store; tests and other sources can stand in for an upstream.
import type { UpstreamConfig } from '../config/config.js';
import type { UpstreamObserver, UpstreamRequest, UpstreamResponse } from '../upstream/exchange.js';

export interface RemoteRegistry {
  readonly name: string;
  readonly mode: 'mirror' | 'passthrough';
  readonly config: UpstreamConfig;
  /** Told about body bytes received and fills resumed or segmented (metrics); absent when nothing listens. */
  readonly observer: UpstreamObserver | undefined;
  /** One idempotent request with failover, retries and redirects followed; only the headers are read on return. */
  fetch(req: UpstreamRequest): Promise<UpstreamResponse>;
  /** One GET of a URL an earlier `fetch` was redirected to (one hop, docs/segmented-fills.md), through `via` (its answer's). */
  fetchResolved(url: URL, req: UpstreamRequest, via?: string): Promise<UpstreamResponse>;
}
