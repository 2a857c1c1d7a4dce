// Watch lists on replicas sharing one bucket (docs/watch.md): every replica schedules the same entries, and of the
// replicas that reach a tick at once exactly one runs the entry (it wins the tick's lease in the bucket); every
// replica sees what the run found, through the shared catalog. Real radosgw; the upstream is a fake that counts.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { createBucket, startReplicas, type BucketSetup, type Replicas } from '../support/cluster-replicas.js';
import { FakeUpstream } from '../support/fake/fake-upstream.js';
import { get } from '../support/fake/mirror-over-fake.js';
import type { BucketObjects } from '../../src/catalog/bucket-objects.js';
import type { TestMirror } from '../support/mirror-app.js';
import { assertInstalled } from '../support/installed-tools.js';
import { radosgwPrograms, startRadosgw, type Radosgw } from '../support/radosgw.js';
import type { Timer } from '../../src/watch/watch-scheduler.js';

const hour = 3600_000;
const manualTimer: Timer = { set: () => undefined, clear: () => undefined };
const entry = 'hub/team/app:1.0';
const accept = { accept: 'application/vnd.oci.image.index.v1+json, application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.list.v2+json, application/vnd.docker.distribution.manifest.v2+json' };

describe('watch lists on three replicas of one bucket', { timeout: 180_000 }, () => {
  let rgw: Radosgw;
  let bucket: BucketSetup;
  let up: FakeUpstream;
  let cluster: Replicas;
  let now = Date.UTC(2026, 11, 7, 8, 30);
  const runsOn = () => cluster.mirrors.map((m) => m.app.watch.state.runs(entry, 50).length);
  const tagHeads = () => up.requests.filter((r) => r.method === 'HEAD' && r.path === '/v2/team/app/manifests/1.0').length;

  before(async () => {
    await assertInstalled(...radosgwPrograms);
    rgw = await startRadosgw();
    bucket = await createBucket(rgw, 'pullgate-watch');
    up = await new FakeUpstream().start();
    up.addImage('team/app', '1.0', [randomBytes(4096)]);
    cluster = await startReplicas({
      replicas: 3,
      bucket,
      upstreams: [{ name: 'hub', registry: 'docker.io', url: up.url, default: true, watch: [{ repository: 'team/app', tags: ['1.0'], every: '1h' }] }],
      mirrorOptions: { clock: () => now, watchTimer: manualTimer },
    });
    for (const m of cluster.mirrors) m.app.watch.scheduler.start();
  });

  after(async () => {
    await cluster?.close();
    await up?.stop();
    await rgw?.stop();
  });

  test('at each tick the three replicas, ticking at once, run the entry exactly once between them', async () => {
    for (const tick of [1, 2, 3]) {
      now = Date.UTC(2026, 11, 7, 8 + tick, 0);
      const heads = tagHeads();
      await Promise.all(cluster.mirrors.map((m) => m.app.watch.scheduler.tick()));
      assert.equal(runsOn().reduce((a, b) => a + b, 0), tick, `tick ${tick}: one run in all, got ${runsOn().join(', ')}`);
      assert.equal(tagHeads() - heads, 1, 'one HEAD of the tag upstream per tick');
    }
  });

  test('every replica serves what the run fetched: a pull of the watched tag on any replica fetches nothing upstream', async () => {
    // The run records the tag in the bucket in the background; the other replicas read it from there.
    await Promise.all(cluster.mirrors.map((m) => m.app.cache.catalog.settled()));
    up.requests.length = 0;
    for (const m of cluster.mirrors) {
      const r = await get(m.url, '/v2/team/app/manifests/1.0', { headers: accept });
      assert.equal(r.status, 200);
    }
    // Nothing at all: the image and the tag's confirmation came from the bucket, within the tag's TTL of the run.
    assert.deepEqual(up.requests.map((q) => `${q.method} ${q.path}`), []);
  });
});

describe('a replica that never ran the entry serves its freshly watched tag from the bucket', { timeout: 180_000 }, () => {
  let rgw: Radosgw;
  let up: FakeUpstream;
  let cluster: Replicas;
  let now = Date.UTC(2026, 11, 7, 8, 30);

  before(async () => {
    await assertInstalled(...radosgwPrograms);
    rgw = await startRadosgw();
    const bucket = await createBucket(rgw, 'pullgate-watch-fresh');
    up = await new FakeUpstream().start();
    up.addImage('team/app', '1.0', [randomBytes(4096)]);
    cluster = await startReplicas({
      replicas: 2,
      bucket,
      upstreams: [{ name: 'hub', registry: 'docker.io', url: up.url, default: true, watch: [{ repository: 'team/app', tags: ['1.0'], every: '1h' }] }],
      mirrorOptions: { clock: () => now, watchTimer: manualTimer },
    });
  });

  after(async () => {
    await cluster?.close();
    await up?.stop();
    await rgw?.stop();
  });

  test('two runs back to back on one replica, the older write answered last by the bucket: the other replica pulls the tag with no upstream request', async () => {
    const [runner, other] = cluster.mirrors as [TestMirror, TestMirror];
    // Fault injection: the bucket answers the first write of the tag object only once the second run is over.
    const objects = (runner.app.cache.catalog as unknown as { o: { objects: BucketObjects } }).o.objects;
    const put = objects.put.bind(objects);
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    let tagPuts = 0;
    objects.put = async (key, bytes, contentType, ifAbsent) => {
      if (key.includes('/tags/') && tagPuts++ === 0) await held;
      return put(key, bytes, contentType, ifAbsent);
    };
    await runner.app.watch.scheduler.tick();
    for (const hour of [9, 10]) {
      now = Date.UTC(2026, 11, 7, hour, 0);
      await runner.app.watch.scheduler.tick();
    }
    release();
    await runner.app.cache.catalog.settled();
    assert.equal(runner.app.watch.state.runs(entry, 50).length, 2, 'the first replica ran the entry at 09:00 and 10:00');
    assert.equal(other.app.watch.state.runs(entry, 50).length, 0, 'the second replica never ran the entry');
    up.requests.length = 0;
    const r = await get(other.url, '/v2/team/app/manifests/1.0', { headers: accept });
    assert.equal(r.status, 200);
    assert.deepEqual(up.requests.map((q) => `${q.method} ${q.path}`), [], 'served from the bucket within the tag TTL of the 10:00 run');
  });
});
