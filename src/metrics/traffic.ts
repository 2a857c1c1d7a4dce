// Traffic per upstream, by hour and by minute: bytes served to clients (and how many of them came from the cache),
// bytes fetched from upstreams (and how many of them a prefetch job asked for), cache hits and misses. Counted in
// memory on the request path and written to SQLite every few seconds (and on close), so a request never waits on
// a write. What the dashboard's chart, the hit ratio and "Saved" are made of. Minute rows (the chart's short
// ranges) are kept for two days; hourly rows for good.
import type { CacheDatabase } from '../cache/db.js';

export interface TrafficSample {
  upstream: string;
  bytesServed: number;
  /** true: answered from the cache; false: went upstream; undefined: neither (errors, listings, /v2/). */
  hit?: boolean | undefined;
}

export interface TrafficTotals {
  bytesServed: number;
  bytesFetched: number;
  /** Bytes served from the cache (hits): upstream traffic the cache avoided. */
  bytesSaved: number;
  /** Bytes fetched by prefetch jobs (part of bytesFetched). */
  bytesPrefetched: number;
  hits: number;
  misses: number;
  hitRatio: number | null;
}

export interface TrafficPoint {
  at: number;
  bytesServed: number;
  bytesFetched: number;
}

interface Counters {
  served: number;
  fetched: number;
  hit: number;
  prefetched: number;
  hits: number;
  misses: number;
}

const minuteMs = 60_000;
const hourMs = 3_600_000;
const keepMinutesMs = 2 * 86_400_000;

/** The bucket of the chart for a period: a minute for the last hour, 5 minutes up to a day, then an hour. */
export function bucketFor(hours: number): number {
  if (hours <= 1) return minuteMs;
  if (hours <= 24) return 5 * minuteMs;
  return hourMs;
}

const zero = (): Counters => ({ served: 0, fetched: 0, hit: 0, prefetched: 0, hits: 0, misses: 0 });

export class Traffic {
  private pending = new Map<string, Counters & { upstream: string; minute: number }>();
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
    if (s.hit === true) {
      c.hits++;
      c.hit += s.bytesServed;
    } else if (s.hit === false) c.misses++;
  }

  /** Bytes received from an upstream (fills per batch, manifests, pass-through): the metrics' own count. */
  fetched(upstream: string, bytes: number): void {
    this.counters(upstream).fetched += bytes;
  }

  /** Bytes a prefetch job had fetched from an upstream (already counted by `fetched`): shown on their own. */
  prefetched(upstream: string, bytes: number): void {
    this.counters(upstream).prefetched += bytes;
  }

  private counters(upstream: string): Counters {
    const minute = Math.floor(this.clock() / minuteMs) * minuteMs;
    const key = `${upstream}\0${minute}`;
    let c = this.pending.get(key);
    if (!c) {
      c = { upstream, minute, ...zero() };
      this.pending.set(key, c);
    }
    return c;
  }

  flush(): void {
    if (this.pending.size === 0) return;
    const rows = [...this.pending.values()];
    this.pending = new Map();
    const upsert = (table: 'traffic' | 'traffic_minutes', column: 'hour' | 'minute') =>
      this.db.prepare(
        `INSERT INTO ${table} (upstream, ${column}, bytes_served, bytes_fetched, bytes_hit, bytes_prefetched, hits, misses) VALUES (?, ?, ?, ?, ?, ?, ?, ?)
         ON CONFLICT DO UPDATE SET bytes_served = bytes_served + excluded.bytes_served,
           bytes_fetched = bytes_fetched + excluded.bytes_fetched, bytes_hit = bytes_hit + excluded.bytes_hit,
           bytes_prefetched = bytes_prefetched + excluded.bytes_prefetched, hits = hits + excluded.hits, misses = misses + excluded.misses`,
      );
    const hourly = upsert('traffic', 'hour');
    const byMinute = upsert('traffic_minutes', 'minute');
    const prune = this.db.prepare('DELETE FROM traffic_minutes WHERE minute < ?');
    this.db.transaction(() => {
      for (const r of rows) {
        const values = [r.served, r.fetched, r.hit, r.prefetched, r.hits, r.misses] as const;
        hourly.run(r.upstream, Math.floor(r.minute / hourMs) * hourMs, ...values);
        byMinute.run(r.upstream, r.minute, ...values);
      }
      prune.run(this.clock() - keepMinutesMs);
    })();
  }

  /** Totals since the first request, overall and per upstream. */
  totals(): { overall: TrafficTotals; byUpstream: Map<string, TrafficTotals> } {
    this.flush();
    const rows = this.db
      .prepare(
        `SELECT upstream, SUM(bytes_served) AS served, SUM(bytes_fetched) AS fetched, SUM(bytes_hit) AS hit,
           SUM(bytes_prefetched) AS prefetched, SUM(hits) AS hits, SUM(misses) AS misses FROM traffic GROUP BY upstream`,
      )
      .all() as Array<Counters & { upstream: string }>;
    const sum = zero();
    const byUpstream = new Map<string, TrafficTotals>();
    for (const r of rows) {
      byUpstream.set(r.upstream, totalsOf(r));
      for (const k of Object.keys(sum) as (keyof Counters)[]) sum[k] += r[k];
    }
    return { overall: totalsOf(sum), byUpstream };
  }

  /**
   * Points for the last `hours` hours, oldest first, every bucket present (zeros included): minute rows summed into
   * the period's bucket (bucketFor) up to a day, hourly rows beyond.
   */
  series(hours: number): { bucketMs: number; points: TrafficPoint[] } {
    this.flush();
    const bucketMs = bucketFor(hours);
    const last = Math.floor(this.clock() / bucketMs) * bucketMs;
    const first = last - (Math.ceil((hours * hourMs) / bucketMs) - 1) * bucketMs;
    const [table, column] = bucketMs < hourMs ? ['traffic_minutes', 'minute'] : ['traffic', 'hour'];
    const rows = this.db
      .prepare(
        `SELECT (${column} / ${bucketMs}) * ${bucketMs} AS at, SUM(bytes_served) AS served, SUM(bytes_fetched) AS fetched
         FROM ${table} WHERE ${column} >= ? GROUP BY 1`,
      )
      .all(first) as Array<{ at: number; served: number; fetched: number }>;
    const byBucket = new Map(rows.map((r) => [r.at, r]));
    const points: TrafficPoint[] = [];
    for (let at = first; at <= last; at += bucketMs) {
      const r = byBucket.get(at);
      points.push({ at, bytesServed: r?.served ?? 0, bytesFetched: r?.fetched ?? 0 });
    }
    return { bucketMs, points };
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
    bytesSaved: c.hit,
    bytesPrefetched: c.prefetched,
    hits: c.hits,
    misses: c.misses,
    hitRatio: lookups ? c.hits / lookups : null,
  };
}
