// Traffic per upstream and hour: bytes served to clients, bytes fetched from upstreams, cache hits and misses.
// Counted in memory on the request path and written to SQLite every few seconds (and on close), so a request never
// waits on a write. What the dashboard's chart, the hit ratio and "bandwidth saved" are made of.
import type { CacheDatabase } from '../cache/db.js';

export interface TrafficSample {
  upstream: string;
  bytesServed: number;
  /** true: answered from the cache; false: went upstream; undefined: neither (errors, listings, /v2/). */
  hit?: boolean;
}

export interface TrafficTotals {
  bytesServed: number;
  bytesFetched: number;
  bytesSaved: number;
  hits: number;
  misses: number;
  hitRatio: number | null;
}

interface Counters {
  served: number;
  fetched: number;
  hits: number;
  misses: number;
}

const hourMs = 3_600_000;

export class Traffic {
  private pending = new Map<string, Counters & { upstream: string; hour: number }>();
  private readonly timer: NodeJS.Timeout;

  constructor(
    private readonly db: CacheDatabase,
    private readonly clock: () => number = Date.now,
    flushEveryMs = 5_000,
  ) {
    this.timer = setInterval(() => this.flush(), flushEveryMs);
    this.timer.unref();
  }

  /** A finished client request: bytes served and whether the cache answered it. */
  record(s: TrafficSample): void {
    const c = this.counters(s.upstream);
    c.served += s.bytesServed;
    if (s.hit === true) c.hits++;
    else if (s.hit === false) c.misses++;
  }

  /** Bytes received from an upstream (fills per batch, manifests, pass-through): the metrics' own count. */
  fetched(upstream: string, bytes: number): void {
    this.counters(upstream).fetched += bytes;
  }

  private counters(upstream: string): Counters {
    const hour = Math.floor(this.clock() / hourMs) * hourMs;
    const key = `${upstream}\0${hour}`;
    let c = this.pending.get(key);
    if (!c) {
      c = { upstream, hour, served: 0, fetched: 0, hits: 0, misses: 0 };
      this.pending.set(key, c);
    }
    return c;
  }

  flush(): void {
    if (this.pending.size === 0) return;
    const rows = [...this.pending.values()];
    this.pending = new Map();
    const upsert = this.db.prepare(
      `INSERT INTO traffic (upstream, hour, bytes_served, bytes_fetched, hits, misses) VALUES (?, ?, ?, ?, ?, ?)
       ON CONFLICT (upstream, hour) DO UPDATE SET bytes_served = bytes_served + excluded.bytes_served,
         bytes_fetched = bytes_fetched + excluded.bytes_fetched, hits = hits + excluded.hits, misses = misses + excluded.misses`,
    );
    this.db.transaction(() => {
      for (const r of rows) upsert.run(r.upstream, r.hour, r.served, r.fetched, r.hits, r.misses);
    })();
  }

  /** Totals since the first request, overall and per upstream. */
  totals(): { overall: TrafficTotals; byUpstream: Map<string, TrafficTotals> } {
    this.flush();
    const rows = this.db
      .prepare('SELECT upstream, SUM(bytes_served) AS served, SUM(bytes_fetched) AS fetched, SUM(hits) AS hits, SUM(misses) AS misses FROM traffic GROUP BY upstream')
      .all() as Array<Counters & { upstream: string }>;
    const sum: Counters = { served: 0, fetched: 0, hits: 0, misses: 0 };
    const byUpstream = new Map<string, TrafficTotals>();
    for (const r of rows) {
      byUpstream.set(r.upstream, totalsOf(r));
      sum.served += r.served;
      sum.fetched += r.fetched;
      sum.hits += r.hits;
      sum.misses += r.misses;
    }
    return { overall: totalsOf(sum), byUpstream };
  }

  /** Hourly points for the last `hours` hours (every hour present, zeros included), oldest first. */
  series(hours: number): { bucketMs: number; points: Array<{ at: number; bytesServed: number; bytesFetched: number }> } {
    this.flush();
    const last = Math.floor(this.clock() / hourMs) * hourMs;
    const first = last - (hours - 1) * hourMs;
    const rows = this.db
      .prepare('SELECT hour, SUM(bytes_served) AS served, SUM(bytes_fetched) AS fetched FROM traffic WHERE hour >= ? GROUP BY hour')
      .all(first) as Array<{ hour: number; served: number; fetched: number }>;
    const byHour = new Map(rows.map((r) => [r.hour, r]));
    const points = [];
    for (let at = first; at <= last; at += hourMs) {
      const r = byHour.get(at);
      points.push({ at, bytesServed: r?.served ?? 0, bytesFetched: r?.fetched ?? 0 });
    }
    return { bucketMs: hourMs, points };
  }

  close(): void {
    clearInterval(this.timer);
    this.flush();
  }
}

function totalsOf(c: Counters): TrafficTotals {
  const lookups = c.hits + c.misses;
  return {
    bytesServed: c.served,
    bytesFetched: c.fetched,
    bytesSaved: Math.max(0, c.served - c.fetched),
    hits: c.hits,
    misses: c.misses,
    hitRatio: lookups ? c.hits / lookups : null,
  };
}
