// The traffic counters on a real SQLite database and a controlled clock: Saved is the bytes served on cache hits,
// prefetched bytes are their own figure, the chart's buckets are a minute, five minutes or an hour by the period,
// and minute rows older than two days are pruned while hourly rows stay.
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { bucketFor, Traffic } from '../../../src/metrics/traffic.js';
import { openDatabase, type CacheDatabase } from '../../../src/cache/db.js';

const minute = 60_000;
const hour = 60 * minute;

describe('traffic counters', () => {
  let dir: string;
  let db: CacheDatabase;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'pullgate-traffic-'));
    db = openDatabase(join(dir, 'cache.db'));
  });
  after(async () => {
    db.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('counts Saved from hits only, prefetched bytes apart, and buckets the chart by the period', () => {
    let now = Date.UTC(2026, 0, 10, 12, 0, 30);
    const traffic = new Traffic(db, () => now, 3_600_000);
    traffic.record({ upstream: 'hub', bytesServed: 1000, hit: false });
    traffic.fetched('hub', 1000);
    now += 2 * minute;
    traffic.record({ upstream: 'hub', bytesServed: 1000, hit: true });
    traffic.record({ upstream: 'hub', bytesServed: 5, hit: undefined });
    traffic.fetched('hub', 4000);
    traffic.prefetched('hub', 4000);

    const { overall } = traffic.totals();
    assert.deepEqual(overall, { bytesServed: 2005, bytesFetched: 5000, bytesSaved: 1000, bytesPrefetched: 4000, hits: 1, misses: 1, hitRatio: 0.5 });

    const lastHour = traffic.series(1);
    assert.equal(lastHour.bucketMs, minute);
    assert.equal(lastHour.points.length, 60);
    assert.deepEqual(lastHour.points.slice(-3).map((p) => p.bytesServed), [1000, 0, 1005]);
    assert.deepEqual(lastHour.points.slice(-3).map((p) => p.bytesFetched), [1000, 0, 4000]);

    const day = traffic.series(24);
    assert.deepEqual([day.bucketMs, day.points.length, day.points.at(-1)?.bytesServed], [5 * minute, 288, 2005]);
    const week = traffic.series(24 * 7);
    assert.deepEqual([week.bucketMs, week.points.length, week.points.at(-1)?.bytesServed], [hour, 168, 2005]);

    // Three days on: the minute rows are gone, the hourly ones (and the totals) stay.
    now += 3 * 24 * hour;
    traffic.record({ upstream: 'hub', bytesServed: 1, hit: true });
    traffic.flush();
    const minutes = db.prepare('SELECT COUNT(*) AS n FROM traffic_minutes').get() as { n: number };
    assert.equal(minutes.n, 1);
    assert.equal(traffic.totals().overall.bytesServed, 2006);
    assert.equal(traffic.series(24 * 7).points.reduce((s, p) => s + p.bytesServed, 0), 2006);
    traffic.close();
  });

  it('chooses a minute for an hour, five minutes up to a day, an hour beyond', () => {
    assert.deepEqual([1, 2, 24, 25, 24 * 30].map(bucketFor), [minute, 5 * minute, 5 * minute, hour, hour]);
  });
});
