// The instruments of one upstream, their label children made once: what src/upstream/upstream.ts and the fills
// report to (through the UpstreamObserver and byte-count callbacks, so upstream/ and mirror/ never import
// prom-client).
import type { Counter, Gauge, Histogram } from 'prom-client';
import type { RateLimit, UpstreamObserver } from '../upstream/exchange.js';
import type { TallyRow } from './tally.js';

export interface UpstreamChildren {
  fetched: TallyRow;
  latency: Record<'GET' | 'HEAD', Histogram.Internal<'upstream' | 'method'>>;
  tokensOk: Counter.Internal;
  tokensFailed: Counter.Internal;
  redirects: Counter.Internal;
  rateLimitRemaining: Gauge.Internal<'upstream'>;
  rateLimitLimit: Gauge.Internal<'upstream'>;
  fillSegments: Counter.Internal;
  fillResumes: Counter.Internal;
}

/** `20;w=21600` -> 20 (RateLimit header fields draft: the quota first, then parameters). */
export function rateLimitValue(header: string | undefined): number | undefined {
  if (header === undefined) return undefined;
  const value = Number(header.split(/[;,]/)[0]?.trim());
  return Number.isFinite(value) ? value : undefined;
}

export class UpstreamMetrics implements UpstreamObserver {
  constructor(
    private readonly c: UpstreamChildren,
    /** Also told each count of fetched bytes (the admin's traffic figures share this one source). */
    private readonly onFetched?: (bytes: number) => void,
  ) {}

  received(bytes: number): void {
    this.c.fetched.value += bytes;
    this.onFetched?.(bytes);
  }

  requested(method: 'GET' | 'HEAD', seconds: number): void {
    this.c.latency[method].observe(seconds);
  }

  tokenFetched(ok: boolean): void {
    (ok ? this.c.tokensOk : this.c.tokensFailed).inc();
  }

  redirected(): void {
    this.c.redirects.inc();
  }

  fillSegments(segments: number): void {
    this.c.fillSegments.inc(segments);
  }

  fillResumed(): void {
    this.c.fillResumes.inc();
  }

  rateLimited(rateLimit: RateLimit): void {
    const remaining = rateLimitValue(rateLimit.remaining);
    const limit = rateLimitValue(rateLimit.limit);
    if (remaining !== undefined) this.c.rateLimitRemaining.set(remaining);
    if (limit !== undefined) this.c.rateLimitLimit.set(limit);
  }
}
