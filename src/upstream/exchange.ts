// One exchange with an upstream: the request the mirror asks for, the response it gets back (headers read, body
// not yet), the rate limit the origin announces, and the observer told about each hop (metrics). Shared by the
// client (upstream.ts), its failover loop (failover.ts) and what uses an upstream (mirror/remote-registry.ts).
import type { IncomingHttpHeaders } from 'node:http';
import type { Readable } from 'node:stream';
import type { Challenge } from './challenge.js';

export interface UpstreamRequest {
  method: 'GET' | 'HEAD';
  /** Path on the upstream, starting with /v2/. */
  path: string;
  query?: URLSearchParams;
  headers?: Record<string, string>;
  /** Upstream repository name: the pull scope of the token the mirror fetches. */
  repository?: string;
  /** passthrough mode: the client's own Authorization, sent to the upstream's origin only. */
  clientAuthorization?: string;
  signal?: AbortSignal;
  /**
   * The caller reads the body through chunks() (chunk-source.ts, chunkSourceOf): the mirror may read it straight
   * from the socket (direct/direct-get.ts). A GET of an http(s) URL without a proxy only; otherwise undici.
   */
  direct?: boolean;
  /**
   * A segmented fill's Range request (docs/segmented-fills.md): read directly without waiting in its origin's line
   * (direct/direct-slots.ts). The fill's own GET holds a slot while it waits for a Range answer, so as many such fills
   * as the bound would otherwise wait for slots only they hold, until all failed as stalled; segment connections have
   * their own bound, the upstream's `segments.maxConnections`.
   */
  segment?: boolean;
}

/**
 * A response body: undici's, or a direct read's (direct/direct-body.ts, which also hands over transient chunks).
 * dump() is for a body the caller does not need (a redirect's, a 401's): the connection is drained or closed.
 */
export type UpstreamBody = Readable & { dump(): Promise<void> };

export interface UpstreamResponse {
  status: number;
  headers: IncomingHttpHeaders;
  body: UpstreamBody;
  /** The URL that finally answered (after redirects). */
  url: URL;
  /**
   * The origin of the upstream URL (a mirror URL or the upstream's own) the answer was fetched through: its settings
   * judge a later GET of `url` (Upstream.fetchResolved), as they judged the redirects to it.
   */
  via?: string;
  /** On a 401: the bearer challenge, for passthrough mode's realm rewrite. */
  challenge?: Challenge;
}

export interface RateLimit {
  limit?: string;
  remaining?: string;
  at: number;
}

/** Told about each upstream request, token fetch and redirect (metrics); every method is cheap and synchronous. */
export interface UpstreamObserver {
  /** Response headers arrived `seconds` after the request was sent (one hop). */
  requested(method: 'GET' | 'HEAD', seconds: number): void;
  tokenFetched(ok: boolean): void;
  redirected(): void;
  /** Manifest or blob body bytes received from this upstream (a fill reports per written batch, not per chunk). */
  received(bytes: number): void;
  /** A segmented fill started with this many segments (docs/segmented-fills.md). */
  fillSegments?(segments: number): void;
  /** A fill's broken or stalled upstream connection was resumed. */
  fillResumed?(): void;
}
