// Eviction and purge through the mirror (docs/storage.md, "The cache"): whole images go, least recently used first,
// down to the low-water mark; shared and pinned content stays; purges by repository, tag and digest leave nothing
// half-kept.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, beforeEach, describe, test } from 'node:test';
import { parseDigest, type Digest } from '../../src/registry/digest.js';
import { manifestReferences } from '../../src/cache/manifest-references.js';
import { FakeUpstream, sha256, type FakeManifest } from '../support/fake/fake-upstream.js';
import { get, type Fetched } from '../support/fake/mirror-over-fake.js';
import { startMirror, type TestMirror } from '../support/mirror-app.js';

const KiB = 1024;

interface ManifestDocument {
  config?: { digest: string };
  layers?: Array<{ digest: string }>;
  manifests?: Array<{ digest: string }>;
}

const documentOf = (bytes: Buffer): ManifestDocument => JSON.parse(bytes.toString('utf8')) as ManifestDocument;
const blobsOf = (m: FakeManifest): string[] => {
  const doc = documentOf(m.bytes);
  return [...(doc.config ? [doc.config.digest] : []), ...(doc.layers ?? []).map((l) => l.digest)];
};

async function eventually(what: string, check: () => boolean | Promise<boolean>, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) assert.fail(`timed out waiting until ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** A pull as a client makes it: the tag, the first platform of an index, then the config and every layer. */
async function pull(mirror: TestMirror, repository: string, tag: string): Promise<void> {
  const top = await get(mirror.url, `/v2/${repository}/manifests/${tag}`);
  assert.equal(top.status, 200, `${repository}:${tag}`);
  let doc = documentOf(top.body);
  const child = doc.manifests?.[0]?.digest;
  if (child) {
    const m = await get(mirror.url, `/v2/${repository}/manifests/${child}`);
    assert.equal(m.status, 200);
    doc = documentOf(m.body);
  }
  const blobs = [...(doc.config ? [doc.config.digest] : []), ...(doc.layers ?? []).map((l) => l.digest)];
  for (const digest of blobs) {
    const b = await get(mirror.url, `/v2/${repository}/blobs/${digest}`);
    assert.equal(b.status, 200);
    assert.equal(sha256(b.body), digest);
  }
  // The client may have its last byte before the fill has committed (fsync, rename, row).
  await eventually(`the blobs of ${repository}:${tag} are committed`, () => blobs.every((d) => mirror.app.cache.index.blob(parseDigest(d))));
}

const cacheMarks = (m: TestMirror, reference: string): Array<string | undefined> =>
  m.logs.filter((l) => l.includes(`"reference":"${reference}"`)).map((l) => (JSON.parse(l) as { cache?: string }).cache);

/**
 * Stored manifests whose blob rows or files are missing: what eviction and purge must never leave behind. (Every pull
 * in these tests is complete, so before an eviction or purge every stored manifest has all its blobs.)
 */
async function manifestsWithMissingBlobs(mirror: TestMirror, up: FakeUpstream): Promise<string[]> {
  const { index, store } = mirror.app.cache;
  const broken: string[] = [];
  const all = new Map<string, FakeManifest>();
  for (const refs of up.manifests.values()) for (const m of refs.values()) all.set(m.digest, m);
  for (const m of all.values()) {
    const row = index.manifest(parseDigest(m.digest));
    if (!row) continue;
    for (const blob of manifestReferences(row.bytes).blobs) {
      const blobRow = index.blob(blob);
      if (!blobRow || (await store.stat(blob)) !== blobRow.size) broken.push(`${m.digest} -> ${blob}`);
    }
  }
  return broken;
}

/** Blob files without an index row: space eviction or purge claimed back on paper only. */
async function orphanFiles(mirror: TestMirror): Promise<Digest[]> {
  const orphans: Digest[] = [];
  for await (const { digest } of mirror.app.cache.store.list()) if (!mirror.app.cache.index.blob(digest)) orphans.push(digest);
  return orphans;
}

const cachedBytes = (mirror: TestMirror): number => {
  const t = mirror.app.cache.index.totals();
  return t.blobBytes + t.manifestBytes;
};

describe('eviction under a small cap', () => {
  const maxSize = 4096 * KiB;
  const lowWater = 0.5;
  let up: FakeUpstream;
  let mirror: TestMirror;
  let now = Date.parse('2025-01-01T00:00:00Z');
  const tick = () => (now += 60_000);

  // Layer sizes (KiB) are chosen so that the cap is exceeded by the last pull only, and eviction of the two least
  // recently used images (A, then B) brings the total under the low-water mark (2048 KiB) while C and D stay:
  //   pinned 600 + S 300 + c1 200 + a1 1480 + b1 1480 = 4060 (+ a few KiB of manifests) <= 4096; + d1 800 = 4860.
  //   Evicting A (a1; S stays for C) leaves 3380, then B (b1) leaves 1900 <= 2048.
  // A first-in-first-out order would take C (pulled before A) first; ignoring pins would take the pinned image.
  const shared = randomBytes(300 * KiB);
  const layers = {
    pinned: randomBytes(600 * KiB),
    a1: randomBytes(1480 * KiB),
    b1: randomBytes(1480 * KiB),
    b2: randomBytes(1480 * KiB),
    c1: randomBytes(200 * KiB),
    d1: randomBytes(800 * KiB),
  };
  let images: Record<'pinned' | 'a' | 'b' | 'bAmd64' | 'bArm64' | 'c' | 'd', FakeManifest>;

  before(async () => {
    up = await new FakeUpstream().start();
    const bAmd64 = up.addImage('library/b', '', [layers.b1]);
    const bArm64 = up.addImage('library/b', '', [layers.b2]);
    images = {
      pinned: up.addImage('team/pinned', '1', [layers.pinned]),
      a: up.addImage('library/a', '1', [shared, layers.a1]),
      b: up.addIndex('library/b', '1', [bAmd64, bArm64]),
      bAmd64,
      bArm64,
      c: up.addImage('library/c', '1', [shared, layers.c1]),
      d: up.addImage('library/d', '1', [layers.d1]),
    };
    mirror = await startMirror(
      {
        upstreams: [{ name: 'hub', registry: 'docker.io', url: up.url, default: true, tagTtl: '24h' }],
        cache: { maxSize, lowWater, pins: ['hub/team/pinned'] },
      },
      { clock: () => now },
    );

    // The pinned image is the oldest; C is pulled before A and B but used again after them.
    for (const repository of ['team/pinned', 'library/c', 'library/a', 'library/b', 'library/c']) {
      tick();
      await pull(mirror, repository, '1');
      assert.ok(cachedBytes(mirror) <= maxSize, `still under the cap after ${repository}`);
    }
    assert.equal(mirror.app.cache.index.manifest(parseDigest(images.a.digest))?.digest, images.a.digest, 'nothing evicted before the cap');
    tick();
    await pull(mirror, 'library/d', '1');
    // Eviction runs after the fill that crossed the cap; wait for it, then for its file removals.
    await eventually('eviction has brought the cache under its cap', () => cachedBytes(mirror) <= maxSize);
    await mirror.app.cache.evict();
  });
  after(async () => {
    await mirror.close();
    await up.stop();
  });
  beforeEach(() => up.reset());

  test('one eviction run brings the total to the low-water mark, not just under the cap', () => {
    assert.ok(cachedBytes(mirror) <= maxSize * lowWater, `${cachedBytes(mirror)} > ${maxSize * lowWater}`);
    const runs = mirror.logs.filter((l) => l.includes('"msg":"cache eviction"')).map((l) => JSON.parse(l) as { victims: number });
    assert.equal(runs.length, 1);
    assert.equal(runs[0]?.victims, 2);
  });

  test('the least recently used images are gone whole: manifests, child manifests, tags and their own layers', async () => {
    const { index, store } = mirror.app.cache;
    for (const m of [images.a, images.b, images.bAmd64]) assert.equal(index.manifest(parseDigest(m.digest)), undefined, m.digest);
    assert.equal(index.tag('hub', 'library/a', '1'), undefined);
    assert.equal(index.tag('hub', 'library/b', '1'), undefined);
    for (const bytes of [layers.a1, layers.b1]) {
      const digest = parseDigest(sha256(bytes));
      assert.equal(index.blob(digest), undefined);
      assert.equal(await store.stat(digest), undefined, 'the file is removed too');
    }
    assert.deepEqual(await orphanFiles(mirror), []);
  });

  test('more recently used images, a layer they share with an evicted one, and the pinned oldest image stay', async () => {
    const { index, store } = mirror.app.cache;
    for (const [m, repository] of [[images.c, 'library/c'], [images.d, 'library/d'], [images.pinned, 'team/pinned']] as const) {
      assert.equal(index.manifest(parseDigest(m.digest))?.digest, m.digest, repository);
      assert.equal(index.tag('hub', repository, '1')?.digest, m.digest, repository);
      for (const blob of blobsOf(m)) assert.ok((await store.stat(parseDigest(blob))) !== undefined, `${repository} ${blob}`);
    }
  });

  test('no kept manifest references a blob that is gone', async () => {
    assert.deepEqual(await manifestsWithMissingBlobs(mirror, up), []);
  });

  test('kept images, the shared layer and the pinned image are served without asking the upstream', async () => {
    for (const [m, repository] of [[images.c, 'library/c'], [images.d, 'library/d'], [images.pinned, 'team/pinned']] as const) {
      const byTag = await get(mirror.url, `/v2/${repository}/manifests/1`);
      assert.equal(byTag.status, 200);
      assert.deepEqual(byTag.body, m.bytes);
      for (const blob of blobsOf(m)) {
        const b = await get(mirror.url, `/v2/${repository}/blobs/${blob}`);
        assert.equal(sha256(b.body), blob);
      }
    }
    assert.equal(up.requests.length, 0, up.requests.map((r) => `${r.method} ${r.path}`).join(', '));
    assert.equal(cacheMarks(mirror, sha256(shared)).at(-1), 'HIT');
  });

  test('an evicted image goes upstream again, by digest and by tag, and its layer is fetched again', async () => {
    const byDigest = await get(mirror.url, `/v2/library/a/manifests/${images.a.digest}`);
    assert.deepEqual(byDigest.body, images.a.bytes);
    assert.equal(up.count((r) => r.method === 'GET' && r.path === `/v2/library/a/manifests/${images.a.digest}`), 1);

    const byTag = await get(mirror.url, '/v2/library/b/manifests/1');
    assert.deepEqual(byTag.body, images.b.bytes);
    assert.equal(up.count((r) => r.path === '/v2/library/b/manifests/1'), 1);

    const a1 = sha256(layers.a1);
    const layer = await get(mirror.url, `/v2/library/a/blobs/${a1}`);
    assert.equal(sha256(layer.body), a1);
    assert.equal(up.count((r) => r.method === 'GET' && r.path === `/v2/library/a/blobs/${a1}`), 1);
  });
});

describe('purge through the index', () => {
  let up: FakeUpstream;
  let mirror: TestMirror;
  const shared = randomBytes(64 * KiB);
  const sharedByDigest = randomBytes(64 * KiB);
  const own = { p1v1: randomBytes(32 * KiB), p1v2: randomBytes(32 * KiB), p2: randomBytes(32 * KiB), p4: randomBytes(32 * KiB) };
  let images: Record<'p1v1' | 'p1v2' | 'p2' | 'p3' | 'p4', FakeManifest>;

  before(async () => {
    up = await new FakeUpstream().start();
    images = {
      p1v1: up.addImage('library/p1', '1', [shared, own.p1v1]),
      p1v2: up.addImage('library/p1', '2', [shared, own.p1v2]),
      p2: up.addImage('library/p2', 'latest', [own.p2]),
      p3: up.addImage('library/p3', '1', [sharedByDigest]),
      p4: up.addImage('library/p4', '1', [sharedByDigest, own.p4]),
    };
    mirror = await startMirror({ upstreams: [{ name: 'hub', registry: 'docker.io', url: up.url, default: true, tagTtl: '24h' }] });
    for (const reference of ['library/p1:1', 'library/p1:2', 'library/p2:latest', 'library/p3:1', 'library/p4:1']) {
      const [repository = '', tag = ''] = reference.split(':');
      await pull(mirror, repository, tag);
    }
  });
  after(async () => {
    await mirror.close();
    await up.stop();
  });
  beforeEach(() => up.reset());

  /** Purges as `pullgate cache purge` does: the rows in one transaction, then the files they freed. */
  async function purge(target: Parameters<TestMirror['app']['cache']['index']['purge']>[0]) {
    const result = mirror.app.cache.index.purge(target);
    for (const digest of result.removedBlobs) await mirror.app.cache.store.remove(digest);
    return result;
  }

  /** A GET through the mirror and how many requests it made upstream. */
  async function through(path: string): Promise<{ r: Fetched; upstream: number }> {
    up.reset();
    const r = await get(mirror.url, path);
    return { r, upstream: up.requests.length };
  }

  async function assertServedFromCache(repository: string, m: FakeManifest, tag: string): Promise<void> {
    const byTag = await through(`/v2/${repository}/manifests/${tag}`);
    assert.equal(byTag.upstream, 0, `${repository}:${tag} from the cache`);
    assert.deepEqual(byTag.r.body, m.bytes);
    for (const blob of blobsOf(m)) {
      const b = await through(`/v2/${repository}/blobs/${blob}`);
      assert.equal(b.upstream, 0, `${repository} ${blob} from the cache`);
      assert.equal(sha256(b.r.body), blob);
    }
  }

  test('a tag takes its image and the layers only it used; the other tag of the repository keeps the shared layer', async () => {
    const result = await purge({ upstream: 'hub', repository: 'library/p1', tag: '1' });
    assert.equal(result.tags, 1);
    assert.equal(result.manifests, 1);
    assert.deepEqual(result.removedBlobs, [sha256(own.p1v1)]);
    assert.equal(await mirror.app.cache.store.stat(parseDigest(sha256(own.p1v1))), undefined);
    assert.deepEqual(await manifestsWithMissingBlobs(mirror, up), []);
    assert.deepEqual(await orphanFiles(mirror), []);

    await assertServedFromCache('library/p1', images.p1v2, '2');
    const gone = await through('/v2/library/p1/manifests/1');
    assert.deepEqual(gone.r.body, images.p1v1.bytes);
    assert.equal(gone.upstream, 1, 'the purged tag is asked upstream again');
    const layer = await through(`/v2/library/p1/blobs/${sha256(own.p1v1)}`);
    assert.equal(sha256(layer.r.body), sha256(own.p1v1));
    assert.equal(layer.upstream, 1, 'its own layer is fetched again');
  });

  test('a repository takes every image pulled under it and nothing of the others', async () => {
    const result = await purge({ upstream: 'hub', repository: 'library/p2' });
    assert.equal(result.tags, 1);
    assert.equal(result.manifests, 1);
    assert.deepEqual(result.removedBlobs, [sha256(own.p2)]);
    assert.equal(mirror.app.cache.index.manifest(parseDigest(images.p2.digest)), undefined);
    assert.deepEqual(await manifestsWithMissingBlobs(mirror, up), []);
    assert.deepEqual(await orphanFiles(mirror), []);

    // By digest first: a fetch by tag would store the manifest again.
    for (const path of [`/v2/library/p2/manifests/${images.p2.digest}`, '/v2/library/p2/manifests/latest']) {
      const again = await through(path);
      assert.deepEqual(again.r.body, images.p2.bytes);
      assert.equal(again.upstream, 1, path);
    }
    await assertServedFromCache('library/p3', images.p3, '1');
    await assertServedFromCache('library/p4', images.p4, '1');
    await pull(mirror, 'library/p2', 'latest');
  });

  test('a blob digest takes every manifest that references it, their tags, and the layers only they used', async () => {
    const result = await purge({ digest: parseDigest(sha256(sharedByDigest)) });
    assert.equal(result.manifests, 2);
    assert.equal(result.tags, 2);
    assert.deepEqual([...result.removedBlobs].sort(), [sha256(sharedByDigest), sha256(own.p4)].sort());
    for (const m of [images.p3, images.p4]) assert.equal(mirror.app.cache.index.manifest(parseDigest(m.digest)), undefined);
    assert.equal(mirror.app.cache.index.tag('hub', 'library/p3', '1'), undefined);
    assert.deepEqual(await manifestsWithMissingBlobs(mirror, up), []);
    assert.deepEqual(await orphanFiles(mirror), []);

    const byTag = await through('/v2/library/p3/manifests/1');
    assert.deepEqual(byTag.r.body, images.p3.bytes);
    assert.equal(byTag.upstream, 1);
    const byDigest = await through(`/v2/library/p4/manifests/${images.p4.digest}`);
    assert.deepEqual(byDigest.r.body, images.p4.bytes);
    assert.equal(byDigest.upstream, 1);
    const blob = await through(`/v2/library/p4/blobs/${sha256(sharedByDigest)}`);
    assert.equal(sha256(blob.r.body), sha256(sharedByDigest));
    assert.equal(blob.upstream, 1);
    await assertServedFromCache('library/p1', images.p1v2, '2');
    // Complete pulls again, so that every stored manifest has its blobs for the next check.
    await pull(mirror, 'library/p3', '1');
    await pull(mirror, 'library/p4', '1');
  });

  test('a manifest digest takes that image only; the config blob every image shares stays', async () => {
    const config = parseDigest(blobsOf(images.p1v2)[0] ?? '');
    const result = await purge({ digest: parseDigest(images.p1v2.digest) });
    assert.equal(result.manifests, 1);
    assert.deepEqual(result.removedBlobs, [sha256(own.p1v2)]);
    assert.ok((await mirror.app.cache.store.stat(config)) !== undefined);
    assert.deepEqual(await manifestsWithMissingBlobs(mirror, up), []);
    const again = await through('/v2/library/p1/manifests/2');
    assert.deepEqual(again.r.body, images.p1v2.bytes);
    assert.equal(again.upstream, 1);
  });
});
