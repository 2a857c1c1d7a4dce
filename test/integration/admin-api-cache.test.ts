// The cache through the admin API: summary, traffic, repositories and images of a pulled image, pins, eviction and
// purge.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { AdminClient } from '../support/admin-client.js';
import { adminApiMirrorForSuite, cacheImageOfAnotherUpstream, pullAlpine } from '../support/admin-api-mirror.js';
import type { FakeUpstream } from '../support/fake/fake-upstream.js';
import type { TestMirror } from '../support/mirror-app.js';

describe('admin API', () => {
  let hub: FakeUpstream;
  let mirror: TestMirror;
  let admin: AdminClient;

  adminApiMirrorForSuite((m) => ({ hub, mirror, admin } = m), cacheImageOfAnotherUpstream);

  describe('cache', () => {
    /** Pulls library/alpine:3.20 and returns the bytes the client received. */
    const pull = (): Promise<number> => pullAlpine(mirror.url);

    test('summary, traffic, repositories and images describe a pulled image; a second pull is all hits', async () => {
      const savedBefore = (await admin.call<{ traffic: { bytesSaved: number } }>('GET', '/api/cache/summary')).body.traffic.bytesSaved;
      await pull();
      const secondPull = await pull();
      type Traffic = { bytesServed: number; bytesFetched: number; bytesSaved: number; bytesPrefetched: number; hits: number; misses: number; hitRatio: number };
      type Summary = { blobs: number; manifests: number; tags: number; size: number; traffic: Traffic; upstreams: Array<{ name: string; repositories: number; traffic: Traffic }> };
      // A request is counted when its response has ended, which may be just after the client has its bytes.
      const hubTraffic = (b: Summary): Traffic | undefined => b.upstreams.find((u) => u.name === 'hub')?.traffic;
      const summary = await admin.until<Summary>('/api/cache/summary', (b) => (hubTraffic(b)?.hits ?? 0) + (hubTraffic(b)?.misses ?? 0) >= 8);
      assert.ok(summary.blobs >= 3);
      assert.ok(summary.manifests >= 1);
      assert.ok(summary.size > 8000);
      const hubRow = summary.upstreams.find((u) => u.name === 'hub');
      assert.equal(hubRow?.repositories, 1);
      const t = hubRow?.traffic as Traffic;
      const image = 3000 + 5000;
      assert.ok(t.bytesServed >= 2 * image, JSON.stringify(t));
      assert.ok(t.bytesFetched >= image && t.bytesFetched < 2 * image, JSON.stringify(t));
      // Saved is what the cache served itself: the second pull, every byte of it a hit.
      assert.equal(summary.traffic.bytesSaved - savedBefore, secondPull);
      assert.equal(t.bytesPrefetched, 0);
      assert.equal(t.hits, 4, 'the second pull: manifest and three blobs from the cache');
      assert.equal(t.misses, 4);
      assert.equal(t.hitRatio, 0.5);
      assert.ok(summary.traffic.bytesServed >= t.bytesServed, 'the overall figures include every upstream');

      // Up to a day: 5-minute buckets from the minute rows; an hour: minutes; beyond a day: hours.
      const series = (await admin.call<{ bucketMs: number; points: Array<{ bytesServed: number }> }>('GET', '/api/cache/traffic?hours=6')).body;
      assert.equal(series.bucketMs, 300_000);
      assert.equal(series.points.length, 72);
      const sum = (s: { points: Array<{ bytesServed: number }> }): number => s.points.reduce((a, p) => a + p.bytesServed, 0);
      assert.equal(sum(series), summary.traffic.bytesServed);
      const hour = (await admin.call<{ bucketMs: number; points: Array<{ bytesServed: number }> }>('GET', '/api/cache/traffic?hours=1')).body;
      assert.deepEqual([hour.bucketMs, hour.points.length, sum(hour)], [60_000, 60, summary.traffic.bytesServed]);
      const week = (await admin.call<{ bucketMs: number; points: Array<{ bytesServed: number }> }>('GET', '/api/cache/traffic?hours=168')).body;
      assert.deepEqual([week.bucketMs, week.points.length, sum(week)], [3_600_000, 168, summary.traffic.bytesServed]);
      assert.equal((await admin.call('GET', '/api/cache/traffic?hours=0')).status, 400);

      const repos = (await admin.call<{ repositories: Array<{ repository: string; tags: number; images: number; pulls: number }> }>('GET', '/api/cache/repositories?upstream=hub')).body;
      assert.deepEqual(repos.repositories.map((r) => [r.repository, r.tags, r.images]), [['library/alpine', 1, 1]]);
      const images = (await admin.call<{ images: Array<{ digest: string; tags: string[]; size: number; pulls: number; pinned: boolean }> }>(
        'GET',
        '/api/cache/images?upstream=hub&repository=library/alpine',
      )).body.images;
      assert.equal(images.length, 1);
      assert.deepEqual(images[0]?.tags, ['3.20']);
      assert.equal(images[0]?.pulls, 2, 'the first pull stored it, the second was a hit');
      assert.ok((images[0]?.size ?? 0) > image);
      assert.equal(images[0]?.pinned, false);
      assert.equal((await admin.call('GET', '/api/cache/images?upstream=hub')).status, 400);
    });

    test('pins: add, list with their source, show on the image, remove; config pins are read-only; bad patterns name the field', async () => {
      const added = await admin.call<{ pins: Array<{ pin: string; source: string }> }>('POST', '/api/cache/pins', { pin: 'hub/library/alpine:3.*' });
      assert.deepEqual(added.body.pins, [
        { pin: 'hub/library/pinned-by-config', source: 'config' },
        { pin: 'hub/library/alpine:3.*', source: 'admin' },
      ]);
      const images = (await admin.call<{ images: Array<{ pinned: boolean }> }>('GET', '/api/cache/images?upstream=hub&repository=library/alpine')).body.images;
      assert.equal(images[0]?.pinned, true);
      const bad = await admin.call<{ fields: Array<{ path: string }> }>('POST', '/api/cache/pins', { pin: 'no-slash' });
      assert.equal(bad.status, 400);
      assert.equal(bad.body.fields[0]?.path, 'pin');
      assert.equal((await admin.call('DELETE', '/api/cache/pins', { pin: 'hub/library/pinned-by-config' })).status, 409);
      assert.equal((await admin.call('DELETE', '/api/cache/pins', { pin: 'hub/library/alpine:3.*' })).status, 200);
      assert.equal((await admin.call('DELETE', '/api/cache/pins', { pin: 'hub/library/alpine:3.*' })).status, 404);
    });

    test('evict runs on demand and reports nothing to do under the cap', async () => {
      const res = await admin.call('POST', '/api/cache/evict');
      assert.equal(res.status, 200);
      assert.deepEqual(res.body, { ran: false, removedImages: 0, removedBlobs: 0, bytes: 0 });
    });

    test('purge of an image by digest empties the repository view and the next pull goes upstream', async () => {
      const images = (await admin.call<{ images: Array<{ digest: string }> }>('GET', '/api/cache/images?upstream=hub&repository=library/alpine')).body.images;
      const digest = images[0]?.digest ?? '';
      const purged = await admin.call<{ manifests: number; blobs: number }>('POST', '/api/cache/purge', { digest });
      assert.equal(purged.status, 200);
      assert.equal(purged.body.manifests, 1);
      // The config blob stays: the other upstream's image has the very same config bytes and still refers to it.
      assert.equal(purged.body.blobs, 2);
      assert.deepEqual((await admin.call<{ images: unknown[] }>('GET', '/api/cache/images?upstream=hub&repository=library/alpine')).body.images, []);
      const blobGets = (r: { method: string; path: string }): boolean => r.method === 'GET' && r.path.startsWith('/v2/library/alpine/blobs/');
      const asked = hub.count(blobGets);
      await pull();
      assert.equal(hub.count(blobGets), asked + 2);
      const byRepo = await admin.call<{ tags: number }>('POST', '/api/cache/purge', { upstream: 'hub', repository: 'library/alpine' });
      assert.equal(byRepo.body.tags, 1);
      assert.equal((await admin.call('POST', '/api/cache/purge', { digest: 'nope' })).status, 400);
    });
  });
});
