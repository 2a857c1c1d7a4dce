// The admin's traffic figures for a redirected blob (cache.storage.redirect): a cache hit, with none of its bytes
// counted as served by the mirror (the object store sent them).
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Activity } from '../../../src/server/activity.js';
import { Traffic } from '../../../src/metrics/traffic.js';
import { openDatabase, type CacheDatabase } from '../../../src/cache/db.js';
import { Fills } from '../../../src/mirror/fills.js';

describe('admin activity for a redirected blob', () => {
  let dir: string;
  let db: CacheDatabase;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'pullgate-activity-'));
    db = openDatabase(join(dir, 'cache.db'));
  });
  after(async () => {
    db.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('counts a REDIRECT as a hit that served no bytes, and lists it with its cache mark', () => {
    const traffic = new Traffic(db, () => 1_000_000, 60_000);
    const activity = new Activity(new Fills(() => Promise.reject(new Error('no fills here')), 60_000), traffic);
    const request = { at: 1, method: 'GET', upstream: 'hub', repository: 'library/alpine', kind: 'blob', status: 307, bytes: 0, ms: 3, client: '127.0.0.1' };
    activity.requestFinished({ ...request, pull: { cache: 'REDIRECT', redirectedBytes: 5_000_000 } });
    activity.requestFinished({ ...request, status: 200, bytes: 700, pull: { cache: 'MISS' } });
    const hub = traffic.totals().byUpstream.get('hub');
    assert.deepEqual([hub?.hits, hub?.misses, hub?.bytesServed], [1, 1, 700]);
    assert.equal(activity.recent()[1]?.cache, 'REDIRECT');
    traffic.close();
  });
});
