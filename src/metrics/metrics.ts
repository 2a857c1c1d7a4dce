// Prometheus metrics (prom-client), one Registry per app so that tests and several apps in one process never
// share counters. Facts are reported where they are born (the access log, upstream requests, fills, eviction);
// gauges that describe state (cache size, fills in flight) are read only when scraped. The per-request and
// per-batch counters are tallies (tally.ts): a request costs one map lookup, a fill's batch one addition.
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { CacheTotals } from '../cache/ports.js';
import { Tally } from './tally.js';
import { UpstreamMetrics } from './upstream-metrics.js';

/** What one registry request adds to the metrics, taken from its access-log line. */
export interface RequestFacts {
  upstream: string | undefined;
  /** manifest, blob, tags, referrers, base (`/v2/`) or other. */
  kind: string;
  method: string;
  status: number;
  /** HIT, MISS, COALESCED, REVALIDATED, STALE, PASS, REDIRECT; NONE when the request never reached the cache. */
  cache: string | undefined;
  bytes: number;
  /** REDIRECT: what the client was sent to fetch from the object store (never part of `bytes`). */
  redirectedBytes?: number | undefined;
}

/** One upstream URL's circuit, for the gauges. */
export interface CircuitFacts {
  upstream: string;
  url: string;
  state: 'closed' | 'half-open' | 'open';
  failures: number;
}

/** The HTTPS port's counters (sni-router.ts stats()). */
export interface PassthroughFacts {
  terminated: number;
  refused: number;
  dropped: Record<string, number>;
  routes: Array<{ sni: string; to: string; connections: number; active: number; bytesIn: number; bytesOut: number }>;
}

export interface StateSources {
  totals: () => CacheTotals;
  fillsInFlight: () => number;
  /** Told every count of bytes received from an upstream (the admin's traffic figures). */
  fetched?: (upstream: string, bytes: number) => void;
}

/** One exposition: its body and the Content-Type that names the text format version. */
export interface Exposition {
  contentType: string;
  body: string;
}

/** Gauges read from the cache's state when scraped: fills in flight, sizes and entry counts. */
function cacheStateGauges(state: StateSources, registers: Registry[]): void {
  new Gauge({
    name: 'pullgate_fills_in_flight',
    help: 'Blob fills from upstreams in progress.',
    registers,
    collect() {
      this.set(state.fillsInFlight());
    },
  });
  new Gauge({
    name: 'pullgate_cache_size_bytes',
    help: 'Bytes of blobs and manifests in the cache.',
    labelNames: ['kind'],
    registers,
    collect() {
      const t = state.totals();
      this.set({ kind: 'blob' }, t.blobBytes);
      this.set({ kind: 'manifest' }, t.manifestBytes);
    },
  });
  new Gauge({
    name: 'pullgate_cache_entries',
    help: 'Blobs, manifests and tags in the cache index.',
    labelNames: ['kind'],
    registers,
    collect() {
      const t = state.totals();
      this.set({ kind: 'blob' }, t.blobs);
      this.set({ kind: 'manifest' }, t.manifests);
      this.set({ kind: 'tag' }, t.tags);
    },
  });
}

export class Metrics {
  readonly registry = new Registry();
  private readonly requests: Tally<'upstream' | 'kind' | 'method' | 'status' | 'cache'>;
  private readonly served: Tally<'upstream' | 'kind'>;
  private readonly redirected: Tally<'upstream'>;
  private readonly fetched: Tally<'upstream'>;
  private readonly evictedRuns: Counter;
  private readonly evictedVictims: Counter;
  private readonly evictedBytes: Counter;
  private readonly upstreamLatency: Histogram<'upstream' | 'method'>;
  private readonly tokenFetches: Counter<'upstream' | 'result'>;
  private readonly redirects: Counter<'upstream'>;
  private readonly signatureVerdicts: Counter<'upstream' | 'result'>;
  private readonly fillSegments: Counter<'upstream'>;
  private readonly fillResumes: Counter<'upstream'>;
  private readonly rateLimitRemaining: Gauge<'upstream'>;
  private readonly rateLimitLimit: Gauge<'upstream'>;
  private readonly upstreams = new Map<string, UpstreamMetrics>();

  constructor(private readonly state: StateSources) {
    const registers = [this.registry];
    collectDefaultMetrics({ register: this.registry });
    this.requests = new Tally(
      'pullgate_requests_total',
      'Registry requests answered, by upstream, kind (manifest, blob, ...), method, status and cache result.',
      ['upstream', 'kind', 'method', 'status', 'cache'],
      this.registry,
    );
    this.served = new Tally('pullgate_served_bytes_total', 'Body bytes sent to clients, by upstream and kind.', ['upstream', 'kind'], this.registry);
    this.redirected = new Tally(
      'pullgate_redirected_bytes_total',
      'Blob bytes clients were redirected to fetch from the object store themselves (cache.storage.redirect); not in served bytes.',
      ['upstream'],
      this.registry,
    );
    this.fetched = new Tally(
      'pullgate_upstream_fetched_bytes_total',
      'Manifest and blob bytes received from each upstream (fills, manifests and pass-through).',
      ['upstream'],
      this.registry,
    );
    this.upstreamLatency = new Histogram({
      name: 'pullgate_upstream_request_duration_seconds',
      help: 'Time from sending an upstream request to its response headers (each hop: redirects and token retries count).',
      labelNames: ['upstream', 'method'],
      buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers,
    });
    this.tokenFetches = new Counter({
      name: 'pullgate_upstream_token_fetches_total',
      help: 'Bearer tokens the mirror fetched from upstream realms, by result (ok, error).',
      labelNames: ['upstream', 'result'],
      registers,
    });
    this.signatureVerdicts = new Counter({
      name: 'pullgate_signature_verdicts_total',
      help: 'Manifest requests judged by a signature policy, by result (pass, fail, audit_fail, unknown).',
      labelNames: ['upstream', 'result'],
      registers,
    });
    this.redirects = new Counter({
      name: 'pullgate_upstream_redirects_total',
      help: 'Upstream redirects followed inside the mirror (CDN hops).',
      labelNames: ['upstream'],
      registers,
    });
    this.fillSegments = new Counter({
      name: 'pullgate_fill_segments_total',
      help: 'Segments of segmented fills (concurrent Range requests of one blob, docs/segmented-fills.md).',
      labelNames: ['upstream'],
      registers,
    });
    this.fillResumes = new Counter({
      name: 'pullgate_fill_resumes_total',
      help: 'Broken or stalled upstream connections of fills resumed at the first missing byte.',
      labelNames: ['upstream'],
      registers,
    });
    this.rateLimitRemaining = new Gauge({
      name: 'pullgate_upstream_ratelimit_remaining',
      help: 'The last RateLimit-Remaining an upstream announced (Docker Hub pulls left in its window).',
      labelNames: ['upstream'],
      registers,
    });
    this.rateLimitLimit = new Gauge({
      name: 'pullgate_upstream_ratelimit_limit',
      help: 'The last RateLimit-Limit an upstream announced.',
      labelNames: ['upstream'],
      registers,
    });
    cacheStateGauges(state, registers);
    this.evictedRuns = new Counter({ name: 'pullgate_cache_eviction_runs_total', help: 'Eviction runs that removed something.', registers });
    this.evictedVictims = new Counter({
      name: 'pullgate_cache_evictions_total',
      help: 'Images and stray blobs evicted to keep the cache under cache.maxSize.',
      registers,
    });
    this.evictedBytes = new Counter({ name: 'pullgate_cache_evicted_bytes_total', help: 'Bytes freed by eviction.', registers });
  }

  /**
   * State read when scraped from parts built after the metrics: each upstream URL's circuit, and the HTTPS port's
   * passthrough routes and refusals.
   */
  watch(sources: { circuits: () => CircuitFacts[]; passthrough: () => PassthroughFacts | undefined }): void {
    const registers = [this.registry];
    const states = ['closed', 'half-open', 'open'] as const;
    new Gauge({
      name: 'pullgate_upstream_circuit_state',
      help: 'Circuit breaker of each upstream URL: 1 for its current state (closed, half-open, open), 0 for the others.',
      labelNames: ['upstream', 'url', 'state'],
      registers,
      collect() {
        this.reset();
        for (const c of sources.circuits()) for (const st of states) this.set({ upstream: c.upstream, url: c.url, state: st }, c.state === st ? 1 : 0);
      },
    });
    new Gauge({
      name: 'pullgate_upstream_consecutive_failures',
      help: 'Consecutive failed tries of each upstream URL (what opens its circuit).',
      labelNames: ['upstream', 'url'],
      registers,
      collect() {
        this.reset();
        for (const c of sources.circuits()) this.set({ upstream: c.upstream, url: c.url }, c.failures);
      },
    });
    const perRoute = (name: string, help: string, pick: (r: PassthroughFacts['routes'][number]) => number) =>
      new Gauge({
        name,
        help,
        labelNames: ['sni', 'backend'],
        registers,
        collect() {
          this.reset();
          for (const r of sources.passthrough()?.routes ?? []) this.set({ sni: r.sni, backend: r.to }, pick(r));
        },
      });
    // Counters in the SNI router, exported as gauges read at scrape time (they only grow while the process runs).
    perRoute('pullgate_passthrough_connections_total', 'TLS passthrough connections, by route.', (r) => r.connections);
    perRoute('pullgate_passthrough_active_connections', 'TLS passthrough connections open now, by route.', (r) => r.active);
    perRoute('pullgate_passthrough_client_bytes_total', 'Bytes from clients piped to the backend, by route.', (r) => r.bytesIn);
    perRoute('pullgate_passthrough_backend_bytes_total', 'Bytes from the backend piped to clients, by route.', (r) => r.bytesOut);
    new Gauge({
      name: 'pullgate_https_connections_total',
      help: 'Connections on the HTTPS port by outcome: terminated by the mirror, refused (unknown name), dropped (bad or slow ClientHello).',
      labelNames: ['outcome'],
      registers,
      collect() {
        this.reset();
        const p = sources.passthrough();
        if (!p) return;
        this.set({ outcome: 'terminated' }, p.terminated);
        this.set({ outcome: 'refused' }, p.refused);
        this.set({ outcome: 'dropped' }, Object.values(p.dropped).reduce((a, b) => a + b, 0));
      },
    });
  }

  /** One registry request, when its response is over (called from the access log). */
  request(f: RequestFacts): void {
    const upstream = f.upstream ?? '';
    const cache = f.cache ?? 'NONE';
    const key = `${upstream}\n${f.kind}\n${f.method}\n${f.status}\n${cache}`;
    this.requests.row(key, { upstream, kind: f.kind, method: f.method, status: String(f.status), cache }).value++;
    if (f.bytes > 0) {
      this.served.row(`${upstream}\n${f.kind}`, { upstream, kind: f.kind }).value += f.bytes;
      // A pass-through blob (disk full, or a HEAD) is not a fill: what went out is what came from the upstream.
      if (f.cache === 'PASS' && f.kind === 'blob' && f.upstream) this.upstream(f.upstream).received(f.bytes);
    }
    if (f.redirectedBytes) this.redirected.row(upstream, { upstream }).value += f.redirectedBytes;
  }

  /** The per-upstream instruments, made once per upstream name (a config reload keeps its series). */
  upstream(name: string): UpstreamMetrics {
    let m = this.upstreams.get(name);
    if (!m) {
      m = new UpstreamMetrics({
        fetched: this.fetched.row(name, { upstream: name }),
        latency: { GET: this.upstreamLatency.labels({ upstream: name, method: 'GET' }), HEAD: this.upstreamLatency.labels({ upstream: name, method: 'HEAD' }) },
        tokensOk: this.tokenFetches.labels({ upstream: name, result: 'ok' }),
        tokensFailed: this.tokenFetches.labels({ upstream: name, result: 'error' }),
        redirects: this.redirects.labels({ upstream: name }),
        rateLimitRemaining: this.rateLimitRemaining.labels({ upstream: name }),
        rateLimitLimit: this.rateLimitLimit.labels({ upstream: name }),
        fillSegments: this.fillSegments.labels({ upstream: name }),
        fillResumes: this.fillResumes.labels({ upstream: name }),
      }, this.state.fetched ? (bytes) => this.state.fetched?.(name, bytes) : undefined);
      this.upstreams.set(name, m);
    }
    return m;
  }

  /** A manifest request judged by a signature policy (docs/signatures.md). */
  verdict(upstream: string, result: string): void {
    this.signatureVerdicts.labels({ upstream, result }).inc();
  }

  evicted(result: { victims: number; bytes: number }): void {
    if (result.victims === 0) return;
    this.evictedRuns.inc();
    this.evictedVictims.inc(result.victims);
    this.evictedBytes.inc(result.bytes);
  }

  async exposition(): Promise<Exposition> {
    return { contentType: this.registry.contentType, body: await this.registry.metrics() };
  }
}
