// Two replicas sharing one cache in a real S3 bucket (radosgw) in front of a real docker-registry (docs/storage.md,
// "The shared catalog"): what A pulled is in the bucket (manifests byte-exact with their media type, tag objects), B
// serves it with the upstream stopped (by tag under the stale rules, by digest, blobs), B's admin shows it after an
// import, a purge on B removes the bucket objects and A stops serving after its next import, and both admins list both
// replicas.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { DeleteObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import type { Descriptor } from '../support/oci-layout.js';
import { assertInstalled } from '../support/installed-tools.js';
import { registryRequests } from '../support/pull-assertions.js';
import { radosgwPrograms } from '../support/radosgw.js';
import {
  blobKey,
  bucket,
  committed,
  prefix,
  get,
  manifestKey,
  sha256,
  startSharedBucketPair,
  tagKey,
  type Replica,
  type SharedBucketPair,
} from '../support/shared-bucket-pair.js';

const requiredPrograms = ['docker-registry', 'skopeo', 'openssl', ...radosgwPrograms];
const slow = { timeout: 120_000 };

const configOf = (raw: Buffer): Descriptor => (JSON.parse(raw.toString('utf8')) as { config: Descriptor }).config;

/** Pulls an image's manifest by tag, its children and every blob through `replica`, as a client would. */
async function pull(replica: Replica, prefix: string, repository: string, tag: string): Promise<string[]> {
  const top = await get(replica, `/v2/${prefix}${repository}/manifests/${tag}`);
  assert.equal(top.status, 200, `${repository}:${tag} through the replica: ${top.bytes.toString('utf8').slice(0, 300)}`);
  const doc = JSON.parse(top.bytes.toString('utf8')) as { manifests?: Descriptor[]; config?: Descriptor; layers?: Descriptor[] };
  const manifests = [sha256(top.bytes)];
  const blobs: Descriptor[] = [];
  for (const child of doc.manifests ?? []) {
    const m = await get(replica, `/v2/${prefix}${repository}/manifests/${child.digest}`);
    assert.equal(m.status, 200);
    manifests.push(child.digest);
    const c = JSON.parse(m.bytes.toString('utf8')) as { config: Descriptor; layers: Descriptor[] };
    blobs.push(c.config, ...c.layers);
  }
  if (doc.config) blobs.push(doc.config, ...(doc.layers ?? []));
  for (const blob of blobs) {
    const res = await get(replica, `/v2/${prefix}${repository}/blobs/${blob.digest}`);
    assert.equal(res.status, 200);
    assert.equal(sha256(res.bytes), blob.digest);
    await committed(replica, blob.digest);
  }
  return [...manifests, ...blobs.map((b) => b.digest)];
}

test('docker-registry, skopeo and radosgw are installed for the shared catalog tests', () => assertInstalled(...requiredPrograms));

describe('two replicas sharing one cache in an S3 bucket (radosgw)', () => {
  let pair: SharedBucketPair;

  before(async () => {
    await assertInstalled(...requiredPrograms);
    pair = await startSharedBucketPair();
  }, { timeout: 240_000 });

  after(async () => {
    await pair?.stop();
  });

  test('what A pulls by tag lands in the bucket: manifests byte for byte with their media type, and a tag object naming the digest', slow, async () => {
    const { a } = pair;
    const { app, alpine, multi } = pair.fixtures;
    await pull(a, '', app.repository, app.tag);
    await pull(a, '', alpine.repository, alpine.tag);
    await pull(a, '', multi.repository, multi.tag);
    await pull(a, 'quick.pullgate.test/', app.repository, app.tag);
    await a.mirror.app.cache.catalog.settled();

    for (const image of [app, alpine, multi]) {
      const stored = await pair.object(manifestKey(image.digest));
      assert.ok(stored, `${image.repository}:${image.tag} manifest is in the bucket`);
      assert.deepEqual(stored.bytes, image.raw, 'byte for byte');
      assert.equal(stored.contentType, image.mediaType);
      const tagObject = await pair.object(tagKey('hub', image.repository, image.tag));
      assert.ok(tagObject, 'the tag has an object');
      const record = JSON.parse(tagObject.bytes.toString('utf8')) as { digest: string; validatedAt: number; replica: string };
      assert.equal(record.digest, image.digest);
      assert.equal(record.replica, a.id);
      assert.ok(Date.now() - record.validatedAt < 60_000, 'validated just now');
    }
    for (const child of Object.values(multi.children)) {
      assert.deepEqual((await pair.object(manifestKey(child.digest)))?.bytes, child.raw, 'child manifest, byte for byte');
    }
    assert.ok(await pair.exists(tagKey('quick', app.repository, app.tag)), 'a tag is kept per upstream');
  });

  test("a tag A revalidates is written again, and B serves it within tagTtl without asking the upstream; a fresh hit writes nothing", slow, async () => {
    const { a, b, reg, rgw } = pair;
    const { app } = pair.fixtures;
    const quick = `/v2/quick.pullgate.test/${app.repository}/manifests/${app.tag}`;
    const tagPath = `/${bucket}/${tagKey('quick', app.repository, app.tag)}`;
    const tagWrites = async (from: number) => (await rgw.requests()).slice(from).filter((r) => r.method === 'PUT' && r.path === tagPath).length;
    // `quick` trusts a tag for 2 s: let A's validation from the first test age past it.
    const first = JSON.parse((await pair.object(tagKey('quick', app.repository, app.tag)))?.bytes.toString('utf8') ?? '{}') as { validatedAt: number };
    await new Promise((r) => setTimeout(r, Math.max(0, first.validatedAt + 2_100 - Date.now())));

    const fromRgw = (await rgw.requests()).length;
    const fromA = a.mirror.logs.length;
    assert.equal((await get(a, quick)).status, 200);
    assert.equal(a.accessLines(fromA)[0]?.cache, 'REVALIDATED');
    await a.mirror.app.cache.catalog.settled();
    assert.equal(await tagWrites(fromRgw), 1, 'the revalidation renewed the tag object');
    const renewed = JSON.parse((await pair.object(tagKey('quick', app.repository, app.tag)))?.bytes.toString('utf8') ?? '{}') as { validatedAt: number };
    assert.ok(renewed.validatedAt > first.validatedAt);

    const fromRegistry = reg.logs().length;
    const fromB = b.mirror.logs.length;
    const fromRgwB = (await rgw.requests()).length;
    const res = await get(b, quick);
    assert.equal(res.status, 200);
    assert.deepEqual(res.bytes, app.raw);
    assert.deepEqual(b.accessLines(fromB).map((l) => [l.cache, l.upstreamStatus]), [['HIT', undefined]]);
    assert.equal((await get(a, quick)).status, 200, 'A again, within its fresh window');
    await a.mirror.app.cache.catalog.settled();
    assert.deepEqual(registryRequests(reg, fromRegistry).filter((r) => r.path.includes('/manifests/')), [], 'no manifest request reached the upstream');
    assert.equal(await tagWrites(fromRgwB), 0, 'serving a fresh tag writes nothing');
  });

  test('with the upstream stopped, B serves by tag (HIT within tagTtl, STALE after it) and by digest, manifests and blobs byte for byte', slow, async () => {
    const { b } = pair;
    const { app, alpine } = pair.fixtures;
    await pair.stopUpstream();
    // `quick` has a 2 s tagTtl: A's last validation will be older than that, so B must revalidate and cannot.
    await new Promise((r) => setTimeout(r, 2_100));
    const from = b.mirror.logs.length;

    const byTag = await get(b, `/v2/${alpine.repository}/manifests/${alpine.tag}`);
    assert.equal(byTag.status, 200);
    assert.deepEqual(byTag.bytes, alpine.raw);
    assert.equal(byTag.headers['content-type'], alpine.mediaType);
    assert.equal(byTag.headers['docker-content-digest'], alpine.digest);
    const byDigest = await get(b, `/v2/${alpine.repository}/manifests/${alpine.digest}`);
    assert.equal(byDigest.status, 200);
    assert.deepEqual(byDigest.bytes, alpine.raw);
    for (const blob of [configOf(alpine.raw), ...alpine.layers]) {
      const res = await get(b, `/v2/${alpine.repository}/blobs/${blob.digest}`);
      assert.equal(res.status, 200);
      assert.equal(res.bytes.length, blob.size);
      assert.equal(sha256(res.bytes), blob.digest, 'the exact bytes');
    }
    const fresh = b.accessLines(from);
    assert.deepEqual(
      fresh.map((l) => [l.url, l.status, l.cache, l.upstreamStatus]),
      [
        [`/v2/${alpine.repository}/manifests/${alpine.tag}`, 200, 'HIT', undefined],
        [`/v2/${alpine.repository}/manifests/${alpine.digest}`, 200, 'HIT', undefined],
        ...[configOf(alpine.raw), ...alpine.layers].map((d) => [`/v2/${alpine.repository}/blobs/${d.digest}`, 200, 'HIT', undefined]),
      ],
    );
    assert.ok(!b.mirror.logs.slice(from).some((l) => l.includes('upstream request failed')), 'no request went upstream');

    const staleFrom = b.mirror.logs.length;
    const quick = `/v2/quick.pullgate.test/${app.repository}`;
    const stale = await get(b, `${quick}/manifests/${app.tag}`);
    assert.equal(stale.status, 200);
    assert.deepEqual(stale.bytes, app.raw);
    const staleByDigest = await get(b, `${quick}/manifests/${app.digest}`);
    assert.deepEqual(staleByDigest.bytes, app.raw);
    for (const blob of [configOf(app.raw), ...app.layers]) {
      const res = await get(b, `${quick}/blobs/${blob.digest}`);
      assert.equal(sha256(res.bytes), blob.digest);
    }
    assert.deepEqual(
      b.accessLines(staleFrom).map((l) => [l.status, l.cache, l.upstreamStatus]),
      [[200, 'STALE', undefined], [200, 'HIT', undefined], ...[configOf(app.raw), ...app.layers].map(() => [200, 'HIT', undefined])],
    );
    // The revalidation of the tag was tried (and failed: the upstream is down); nothing else was.
    const failures = b.mirror.logs.slice(staleFrom).filter((l) => l.includes('upstream request failed'));
    assert.ok(failures.length > 0, 'the tag was revalidated upstream');
    assert.ok(failures.every((l) => l.includes('"upstream":"quick"')));
  });

  test('a manifest object whose bytes do not match its key, and a tag naming it, are never served', slow, async () => {
    const { b } = pair;
    const claimed = sha256(Buffer.from('what the key promises'));
    const forged = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.manifest.v1+json', layers: [] }));
    await pair.s3.send(new PutObjectCommand({ Bucket: bucket, Key: manifestKey(claimed), Body: forged, ContentType: 'application/vnd.oci.image.manifest.v1+json' }));
    await pair.s3.send(new PutObjectCommand({ Bucket: bucket, Key: tagKey('hub', 'library/forged', 'latest'), Body: JSON.stringify({ digest: claimed, validatedAt: Date.now(), replica: 'x' }) }));
    const from = b.mirror.logs.length;
    assert.notEqual((await get(b, `/v2/library/forged/manifests/latest`)).status, 200);
    assert.notEqual((await get(b, `/v2/library/forged/manifests/${claimed}`)).status, 200);
    assert.equal(b.mirror.app.cache.index.manifest(claimed as Parameters<typeof b.mirror.app.cache.index.manifest>[0]), undefined, 'nothing recorded');
    assert.ok(b.mirror.logs.slice(from).some((l) => l.includes('shared catalog manifest does not match its key')));
    await pair.s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: manifestKey(claimed) }));
    await pair.s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: tagKey('hub', 'library/forged', 'latest') }));
  });

  test("B's admin cache view shows what A pulled and B never served, after an import", slow, async () => {
    const { b } = pair;
    const { multi } = pair.fixtures;
    const repos = await b.admin.call<{ repositories: Array<{ repository: string; tags: number; images: number; size: number }> }>('GET', '/api/cache/repositories?upstream=hub');
    assert.equal(repos.status, 200);
    const row = repos.body.repositories.find((r) => r.repository === multi.repository);
    assert.ok(row, `B lists ${multi.repository}: ${repos.text}`);
    assert.equal(row.tags, 1);
    assert.equal(row.images, 1);
    const images = await b.admin.call<{ images: Array<{ digest: string; tags: string[]; platforms: string[]; size: number }> }>(
      'GET',
      `/api/cache/images?upstream=hub&repository=${multi.repository}`,
    );
    const image = images.body.images[0];
    assert.equal(image?.digest, multi.digest);
    assert.deepEqual(image?.tags, [multi.tag]);
    assert.deepEqual([...(image?.platforms ?? [])].sort(), ['linux/amd64', 'linux/arm64/v8']);
    const children = Object.values(multi.children);
    const expectedSize =
      multi.size + children.reduce((sum, c) => sum + c.size + configOf(c.raw).size + c.layers.reduce((s, l) => s + l.size, 0), 0);
    assert.equal(image?.size, expectedSize, 'manifests and every blob of both platforms, as stored in the bucket');

    const summary = await b.admin.call<{ blobs: number; manifests: number; tags: number }>('GET', '/api/cache/summary');
    assert.equal(summary.body.blobs, (await pair.keys('blobs/')).length, 'every blob in the bucket is counted');
    assert.equal(summary.body.manifests, (await pair.keys('manifests/')).length);
    assert.equal(summary.body.tags, (await pair.keys('tags/')).length);
  });

  test('a purge on B removes the bucket objects, and A stops serving the image after its next import', slow, async () => {
    const { a, b } = pair;
    const { multi } = pair.fixtures;
    const children = Object.values(multi.children);
    const layers = children.flatMap((c) => [configOf(c.raw), ...c.layers]);
    assert.equal((await get(a, `/v2/${multi.repository}/manifests/${multi.tag}`)).status, 200, 'A serves it before the purge');

    const purged = await b.admin.call<{ manifests: number; blobs: number; tags: number }>('POST', '/api/cache/purge', {
      upstream: 'hub',
      repository: multi.repository,
      tag: multi.tag,
    });
    assert.equal(purged.status, 200, purged.text);
    assert.deepEqual([purged.body.manifests, purged.body.tags, purged.body.blobs], [3, 1, layers.length]);
    assert.equal(await pair.exists(tagKey('hub', multi.repository, multi.tag)), false, 'tag object gone');
    for (const digest of [multi.digest, ...children.map((c) => c.digest)]) assert.equal(await pair.exists(manifestKey(digest)), false, `manifest ${digest} gone`);
    for (const blob of layers) assert.equal(await pair.exists(blobKey(blob.digest)), false, `blob ${blob.digest} gone`);
    assert.ok(await pair.exists(manifestKey(pair.fixtures.alpine.digest)), 'what the purge did not cover stays');

    await a.mirror.app.cache.catalog.sync();
    assert.equal(a.mirror.app.cache.index.tag('hub', multi.repository, multi.tag), undefined, "A's index lost the tag");
    assert.equal(a.mirror.app.cache.index.manifest(multi.digest as Parameters<typeof a.mirror.app.cache.index.manifest>[0]), undefined);
    const byTag = await get(a, `/v2/${multi.repository}/manifests/${multi.tag}`);
    assert.notEqual(byTag.status, 200, 'A no longer serves the tag (and its upstream is down)');
    const byDigest = await get(a, `/v2/${multi.repository}/manifests/${multi.digest}`);
    assert.notEqual(byDigest.status, 200, 'nor the digest');
    assert.equal((await get(a, `/v2/${pair.fixtures.alpine.repository}/manifests/${pair.fixtures.alpine.tag}`)).status, 200, 'A still serves the rest');
  });

  test('eviction on A runs through the eviction turn, after an import, and deletes the evicted image from the bucket but no blob a kept manifest references', slow, async () => {
    const { a } = pair;
    const { app, alpine } = pair.fixtures;
    const cache = a.mirror.app.cache;
    const turns: string[] = [];
    cache.setEvictionTurn(async (run) => {
      turns.push('claimed');
      return run();
    });
    const alpineBytes = alpine.size + configOf(alpine.raw).size + alpine.layers.reduce((s, l) => s + l.size, 0);
    const saved = { ...cache.policy };
    cache.policy.maxBytes = alpineBytes;
    cache.policy.lowWaterBytes = alpineBytes;
    try {
      // A read alpine last (the purge test): team/app is the least recently used image.
      const result = await cache.evict();
      assert.deepEqual(turns, ['claimed']);
      assert.equal(result?.victims, 1);
      assert.equal(result?.totalAfter, alpineBytes);
    } finally {
      Object.assign(cache.policy, saved);
    }
    assert.equal(await pair.exists(manifestKey(app.digest)), false, 'the evicted manifest left the bucket');
    assert.equal(await pair.exists(tagKey('hub', app.repository, app.tag)), false);
    assert.equal(await pair.exists(tagKey('quick', app.repository, app.tag)), false, 'with every tag naming it');
    for (const blob of [configOf(app.raw), ...app.layers]) assert.equal(await pair.exists(blobKey(blob.digest)), false);
    assert.ok(await pair.exists(manifestKey(alpine.digest)));
    assert.ok(await pair.exists(tagKey('hub', alpine.repository, alpine.tag)));
    for (const blob of [configOf(alpine.raw), ...alpine.layers]) assert.ok(await pair.exists(blobKey(blob.digest)), 'a kept manifest keeps its blobs');
  });

  test('heartbeats show both replicas, with their figures summed, in either admin API; a day-old heartbeat is deleted', slow, async () => {
    const { a, b } = pair;
    const heartbeat = (id: string, at: number) =>
      JSON.stringify({ id, address: 'gone.example', version: '0.1.0', startedAt: at, at, bytesServed: 5, bytesFetched: 5, hits: 5, misses: 5, fillsInFlight: 0 });
    const replicaKey = (id: string) => `${prefix}replicas/${id}`;
    await pair.s3.send(new PutObjectCommand({ Bucket: bucket, Key: replicaKey('killed-a-minute-ago'), Body: heartbeat('killed-a-minute-ago', Date.now() - 60_000) }));
    await pair.s3.send(new PutObjectCommand({ Bucket: bucket, Key: replicaKey('killed-two-days-ago'), Body: heartbeat('killed-two-days-ago', Date.now() - 2 * 86_400_000) }));
    for (const r of [a, b]) {
      const view = await r.admin.call<{
        shared: boolean;
        self: string;
        replicas: Array<{ id: string; address: string; version: string; bytesServed: number; hits: number; lastSeenAt: number }>;
        totals: { bytesServed: number; hits: number };
      }>('GET', '/api/cluster');
      assert.equal(view.status, 200);
      assert.equal(view.body.shared, true);
      assert.equal(view.body.self, r.id);
      assert.deepEqual(view.body.replicas.map((x) => x.id).sort(), [a.id, b.id].sort());
      assert.equal(view.body.replicas[0]?.id, r.id, 'this replica first');
      for (const x of view.body.replicas) {
        assert.equal(x.version, '0.1.0');
        assert.ok(Date.now() - x.lastSeenAt < 45_000);
      }
      assert.equal(view.body.totals.bytesServed, view.body.replicas.reduce((s, x) => s + x.bytesServed, 0));
      assert.equal(view.body.totals.hits, view.body.replicas.reduce((s, x) => s + x.hits, 0));
    }
    assert.ok(await pair.exists(replicaKey('killed-a-minute-ago')), 'a recent heartbeat is only left out of the view');
    assert.equal(await pair.exists(replicaKey('killed-two-days-ago')), false, 'a day-old one is deleted');
    // The asking replica writes its heartbeat anew: B's figures include the cache hits of the stopped-upstream test.
    const fromB = await b.admin.call<{ replicas: Array<{ id: string; hits: number; misses: number; bytesFetched: number }> }>('GET', '/api/cluster');
    // 1 + 5 requests for team/app through `quick` and 4 for alpine, all from the cache; nothing fetched upstream.
    const own = fromB.body.replicas[0];
    assert.deepEqual([own?.id, own?.hits, own?.misses, own?.bytesFetched], [b.id, 10, 0, 0], fromB.text);
    await b.mirror.app.close();
    const after = await a.admin.call<{ replicas: Array<{ id: string }> }>('GET', '/api/cluster');
    assert.deepEqual(after.body.replicas.map((x) => x.id), [a.id], 'a replica that shut down leaves the view at once');
  });
});
