// Prefetch and activity through the admin API: a prefetch job's progress, partial failure, retry and cancel, the
// platforms it narrows an index to, and the recent requests with their event stream.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { request } from 'undici';
import type { AdminClient } from '../support/admin-client.js';
import { adminApiMirrorForSuite, pullAlpine } from '../support/admin-api-mirror.js';
import type { FakeUpstream } from '../support/fake/fake-upstream.js';
import { get } from '../support/fake/mirror-over-fake.js';
import type { TestMirror } from '../support/mirror-app.js';

describe('admin API', () => {
  let hub: FakeUpstream;
  let mirror: TestMirror;
  let admin: AdminClient;

  // As the cache tests leave it: the small config blob every fake image shares is cached.
  adminApiMirrorForSuite((m) => ({ hub, mirror, admin } = m), (m) => pullAlpine(m.mirror.url));

  describe('prefetch and activity', () => {
    test('prefetch pulls an image into the cache with progress; a missing image fails with its reason', async () => {
      hub.addImage('library/busybox', '1.36', [Buffer.alloc(70_000, 7), Buffer.alloc(9000, 8)]);
      type Totals = { bytesServed: number; bytesSaved: number; bytesPrefetched: number };
      const totals = async (): Promise<Totals> => (await admin.call<{ traffic: Totals }>('GET', '/api/cache/summary')).body.traffic;
      const before = await totals();
      const started = await admin.call<{ id: string; state: string }>('POST', '/api/prefetch', { images: ['busybox:1.36', 'library/nothing-here:1'] });
      assert.equal(started.status, 202);
      type Job = { state: string; images: Array<{ image: string; state: string; bytesDone: number; bytesTotal: number; blobsDone: number; blobsTotal: number; error?: string }> };
      const job = await admin.until<Job>(`/api/prefetch/${started.body.id}`, (j) => j.state !== 'running');
      // One of two done: partial, not failed; the failure names the upstream, its registry and the repository.
      assert.equal(job.state, 'partial');
      assert.deepEqual(job.images.map((i) => [i.image, i.state]), [['busybox:1.36', 'done'], ['library/nothing-here:1', 'failed']]);
      assert.equal(job.images[0]?.blobsDone, 3);
      assert.equal(job.images[0]?.bytesDone, job.images[0]?.bytesTotal);
      assert.match(job.images[1]?.error ?? '', /^hub \([^)]+\), repository library\/nothing-here: .*manifest unknown/i);
      // Prefetched bytes are counted on their own; Saved (bytes served from the cache) and Served do not move.
      const after = await totals();
      // Only what went upstream for the job: its two new layers (its small config has the same bytes as one pulled
      // before, so the cache had it).
      assert.equal(after.bytesPrefetched - before.bytesPrefetched, 70_000 + 9000);
      assert.equal(after.bytesSaved, before.bytesSaved);
      assert.equal(after.bytesServed, before.bytesServed);

      // Retry starts a new job with only what did not finish; cancel stops a job and says so.
      const retried = await admin.call<{ id: string; images: Array<{ image: string }> }>('POST', `/api/prefetch/${started.body.id}/retry`);
      assert.equal(retried.status, 202);
      assert.deepEqual(retried.body.images.map((i) => i.image), ['library/nothing-here:1']);
      const cancelled = await admin.call<{ state: string; images: Array<{ state: string }> }>('POST', `/api/prefetch/${retried.body.id}/cancel`);
      assert.equal(cancelled.status, 200);
      const settled = await admin.until<Job>(`/api/prefetch/${retried.body.id}`, (j) => j.state !== 'running');
      assert.ok(['cancelled', 'failed'].includes(settled.state), settled.state);
      assert.equal((await admin.call('POST', '/api/prefetch/nope/cancel')).status, 404);

      const asked = hub.count();
      const from = mirror.logs.length;
      const m = await get(mirror.url, '/v2/busybox/manifests/1.36');
      const doc = JSON.parse(m.body.toString()) as { layers: Array<{ digest: string }> };
      assert.equal((await get(mirror.url, `/v2/busybox/blobs/${doc.layers[0]?.digest}`)).status, 200);
      assert.equal(hub.count(), asked, 'served from the cache');
      // The access line is written when the response has ended, which may be just after the client has its bytes.
      const hitLine = (): boolean => mirror.logs.slice(from).some((l) => l.includes('"cache":"HIT"') && l.includes('/blobs/'));
      for (let i = 0; i < 50 && !hitLine(); i++) await new Promise((r) => setTimeout(r, 20));
      assert.ok(hitLine(), mirror.logs.slice(from).join('\n'));
      assert.ok((await admin.call<{ jobs: unknown[] }>('GET', '/api/prefetch')).body.jobs.length >= 1);
      assert.equal((await admin.call('GET', '/api/prefetch/nope')).status, 404);
      assert.equal((await admin.call('POST', '/api/prefetch', { images: [] })).status, 400);
      assert.equal((await admin.call('POST', '/api/prefetch', { images: ['x'], platforms: ['amd64'] })).status, 400);
    });

    test('prefetch narrows an index to the chosen platforms', async () => {
      const amd = hub.addImage('library/multi', 'amd', [Buffer.alloc(1000, 1)]);
      const arm = hub.addImage('library/multi', 'arm', [Buffer.alloc(1000, 2)]);
      hub.addIndex('library/multi', 'latest', [amd, arm]);
      const started = await admin.call<{ id: string }>('POST', '/api/prefetch', { images: ['multi'], platforms: ['linux/arm64'] });
      const job = await admin.until<{ state: string }>(`/api/prefetch/${started.body.id}`, (j) => j.state !== 'running');
      assert.equal(job.state, 'done');
      assert.ok(mirror.app.cache.index.manifest(arm.digest as never), 'the arm64 manifest is cached');
      assert.equal(mirror.app.cache.index.manifest(amd.digest as never), undefined, 'the amd64 one is not fetched');
    });

    test('activity lists recent requests, and the event stream sends a snapshot and then each finished request', async () => {
      await get(mirror.url, '/v2/busybox/manifests/1.36');
      const snap = (await admin.call<{ fills: unknown[]; recent: Array<{ repository?: string; kind?: string; cache?: string }> }>('GET', '/api/activity')).body;
      assert.deepEqual(snap.fills, []);
      assert.deepEqual(
        { repository: snap.recent[0]?.repository, kind: snap.recent[0]?.kind, cache: snap.recent[0]?.cache },
        { repository: 'library/busybox', kind: 'manifest', cache: 'HIT' },
      );

      const abort = new AbortController();
      const res = await request(`${admin.url}/api/activity/events`, { headers: { cookie: admin.cookie ?? '' }, signal: abort.signal });
      assert.equal(res.statusCode, 200);
      assert.match(String(res.headers['content-type']), /^text\/event-stream/);
      let text = '';
      const seen = new Promise<void>((resolve) => {
        res.body.on('data', (chunk: Buffer) => {
          text += chunk.toString();
          if (text.includes('event: snapshot') && text.includes('event: request')) resolve();
        });
      });
      res.body.on('error', () => undefined);
      await new Promise((r) => setTimeout(r, 100));
      await get(mirror.url, '/v2/busybox/manifests/1.36');
      await seen;
      abort.abort();
      const request1 = text.split('\n\n').find((e) => e.startsWith('event: request'));
      assert.match(request1 ?? '', /"repository":"library\/busybox"/);
    });
  });
});
