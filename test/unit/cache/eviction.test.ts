import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { Digest } from '../../../src/registry/digest.js';
import { evict, planEviction, type EvictionPolicy } from '../../../src/cache/eviction.js';
import { parsePin } from '../../../src/cache/pins.js';
import { blobContent, capturedLog, commitBlob, putImage, putIndex, sha256, tempDirs, withStore, type StoreFixture } from './cache-fixtures.js';

const dirs = tempDirs();
after(() => dirs.removeAll());

const layer = (name: string, size: number): Digest => sha256(blobContent(name, size));
const repo = (repository: string, tag?: string) => ({ upstream: 'hub', repository, ...(tag ? { tag } : {}) });
const policy = (maxBytes: number, lowWaterBytes: number, pins: string[] = []): EvictionPolicy => ({
  maxBytes, lowWaterBytes, pins: pins.map(parsePin),
});

type Cache = StoreFixture;

const withCache = (test: (c: Cache) => Promise<void>): Promise<void> => withStore(dirs, test);

/** Every blob a stored manifest references and that was stored before is still stored, row and file. */
async function assertKeptManifestsAreWhole(c: Cache, blobsBefore: Set<string>): Promise<void> {
  const refs = c.db.prepare<[], { manifest: string; child: Digest }>(`SELECT manifest, child FROM manifest_refs WHERE kind = 'blob'`).all();
  const files = new Set<string>(await c.files());
  for (const { manifest, child } of refs) {
    if (!blobsBefore.has(child)) continue;
    assert.ok(c.index.blob(child), `kept manifest ${manifest} lost the row of ${child}`);
    assert.ok(files.has(child), `kept manifest ${manifest} lost the file of ${child}`);
  }
  assert.deepEqual([...files].sort(), c.index.blobDigests(), 'files and rows agree');
}

describe('planEviction', () => {
  it('plans nothing while the cache is within its cap', () =>
    withCache(async (c) => {
      await putImage(c.index, repo('library/alpine', 'latest'), 'a', [['x', 100]], c.store);
      const plan = planEviction(c.index, policy(c.total(), 0));
      assert.deepEqual(plan.candidates, []);
      const result = await evict(c.index, c.store.blobs, policy(c.total(), 0));
      assert.equal(result.victims, 0);
      assert.equal((await c.files()).length, 1);
    }));

  it('lists images and stray blobs oldest first, without the pinned ones', () =>
    withCache(async (c) => {
      const a = await putImage(c.index, repo('library/alpine', 'latest'), 'a', [['x', 100]], c.store);
      c.clock.advance(1000);
      c.index.putBlob(sha256('stray'), 10, 'hub', 'library/busybox');
      c.clock.advance(1000);
      await putImage(c.index, repo('library/nginx', 'latest'), 'n', [['y', 100]], c.store);
      const plan = planEviction(c.index, policy(1, 0, ['hub/library/nginx']));
      assert.deepEqual(plan.candidates.map((k) => [k.kind, k.digest]), [['image', a.digest], ['blob', sha256('stray')]]);
      assert.equal(plan.pinned, 1);
    }));
});

describe('evict', () => {
  it('evicts the least recently used images to the low-water mark and keeps the layers a kept image uses', () =>
    withCache(async (c) => {
      const old = await putImage(c.index, repo('library/alpine', '3.18'), 'old', [['base', 1000], ['old', 500]], c.store);
      c.clock.advance(1000);
      const middle = await putImage(c.index, repo('library/busybox', 'latest'), 'middle', [['middle', 500]], c.store);
      c.clock.advance(1000);
      const recent = await putImage(c.index, repo('library/alpine', '3.20'), 'recent', [['base', 1000], ['recent', 500]], c.store);
      const before = new Set(c.index.blobDigests());
      const total = c.total();
      const result = await evict(c.index, c.store.blobs, policy(total - 1, total - 1100));
      assert.equal(result.victims, 2);
      assert.equal(c.index.manifest(old.digest), undefined);
      assert.equal(c.index.manifest(middle.digest), undefined);
      assert.ok(c.index.manifest(recent.digest));
      assert.deepEqual(await c.files(), [layer('base', 1000), layer('recent', 500)].sort());
      assert.equal(c.index.tag('hub', 'library/alpine', '3.18'), undefined);
      assert.deepEqual(result.removedBlobs.sort(), [layer('old', 500), layer('middle', 500)].sort());
      assert.equal(result.totalAfter, c.total());
      assert.ok(result.totalAfter <= total - 1100);
      await assertKeptManifestsAreWhole(c, before);
    }));

  it('stops as soon as the total is at or under the low-water mark', () =>
    withCache(async (c) => {
      for (const [i, name] of ['a', 'b', 'c', 'd'].entries()) {
        c.clock.set(1_000_000 + i * 1000);
        await putImage(c.index, repo(`team/${name}`, 'latest'), name, [[name, 1000]], c.store);
      }
      const total = c.total();
      const result = await evict(c.index, c.store.blobs, policy(total - 1, total - 1500));
      assert.equal(result.victims, 2, 'one image frees ~1000 bytes, so two reach the mark');
      assert.deepEqual((await c.files()).sort(), [layer('c', 1000), layer('d', 1000)].sort());
    }));

  it('a touch makes an image recent again, even before the touches are flushed', () =>
    withCache(async (c) => {
      const a = await putImage(c.index, repo('library/alpine', 'latest'), 'a', [['a', 1000]], c.store);
      c.clock.advance(1000);
      const b = await putImage(c.index, repo('library/busybox', 'latest'), 'b', [['b', 1000]], c.store);
      c.clock.advance(1000);
      c.index.touch('manifest', a.digest);
      const result = await evict(c.index, c.store.blobs, policy(c.total() - 1, c.total() - 1000));
      assert.equal(result.victims, 1);
      assert.ok(c.index.manifest(a.digest));
      assert.equal(c.index.manifest(b.digest), undefined);
    }));

  it('an index goes with its children and their blobs, and is as recent as its most recent child', () =>
    withCache(async (c) => {
      const amd64 = await putImage(c.index, repo('library/alpine'), 'amd64', [['amd64', 1000]], c.store);
      const arm64 = await putImage(c.index, repo('library/alpine'), 'arm64', [['arm64', 1000]], c.store);
      const list = putIndex(c.index, repo('library/alpine', 'latest'), [amd64.digest, arm64.digest]);
      c.clock.advance(1000);
      const other = await putImage(c.index, repo('library/busybox', 'latest'), 'other', [['other', 1000]], c.store);
      c.clock.advance(1000);
      c.index.touch('manifest', arm64.digest); // a pull of one platform touches the index's child, not every manifest
      const before = new Set(c.index.blobDigests());
      await evict(c.index, c.store.blobs, policy(c.total() - 1, c.total() - 1000));
      assert.equal(c.index.manifest(other.digest), undefined, 'the image used longest ago goes first');
      assert.ok(c.index.manifest(list));
      const result = await evict(c.index, c.store.blobs, policy(0, 0));
      assert.deepEqual([result.victims, result.manifests, result.blobs, result.tags], [1, 3, 2, 1]);
      assert.deepEqual(await c.files(), []);
      assert.deepEqual(c.index.totals(), { blobs: 0, blobBytes: 0, manifests: 0, manifestBytes: 0, tags: 0 });
      await assertKeptManifestsAreWhole(c, before);
    }));

  it('pinned images are never evicted, and their layers stay when an unpinned image sharing them goes', () =>
    withCache(async (c) => {
      const pinnedByTag = await putImage(c.index, repo('distroless/base', 'latest'), 'p1', [['base', 1000]], c.store);
      const pinnedByRepo = await putImage(c.index, repo('library/nginx', '1.27'), 'p2', [['nginx', 1000]], c.store);
      c.clock.advance(1000);
      const unpinned = await putImage(c.index, repo('library/alpine', 'latest'), 'u', [['base', 1000], ['u', 1000]], c.store);
      const { log, lines } = capturedLog();
      const result = await evict(c.index, c.store.blobs, policy(1, 0, ['hub/distroless/base:latest', 'hub/library/nginx']), log);
      assert.equal(c.index.manifest(unpinned.digest), undefined);
      assert.ok(c.index.manifest(pinnedByTag.digest) && c.index.manifest(pinnedByRepo.digest));
      assert.deepEqual(await c.files(), [layer('base', 1000), layer('nginx', 1000)].sort());
      assert.equal(result.victims, 1);
      assert.ok(lines.some((l) => l.level === 40 && String(l.msg).includes('over its size cap')), 'warns it cannot reach the cap');
    }));

  it('stray blobs are evicted by age among the images', () =>
    withCache(async (c) => {
      const stray = layer('stray', 1000);
      await commitBlob(c.store, stray, blobContent('stray', 1000));
      c.index.putBlob(stray, 1000, 'hub', 'library/alpine');
      c.clock.advance(1000);
      const image = await putImage(c.index, repo('library/alpine', 'latest'), 'i', [['i', 1000]], c.store);
      const result = await evict(c.index, c.store.blobs, policy(c.total() - 1, c.total() - 1000));
      assert.deepEqual(result.removedBlobs, [stray]);
      assert.ok(c.index.manifest(image.digest));
      assert.deepEqual(await c.files(), [layer('i', 1000)]);
    }));

  it('never leaves a kept manifest without its blobs, across many images sharing layers', () =>
    withCache(async (c) => {
      const pool: Array<[string, number]> = ['l0', 'l1', 'l2', 'l3', 'l4', 'l5'].map((n, i) => [n, 200 + 100 * i]);
      const images: Digest[] = [];
      for (let i = 0; i < 12; i++) {
        c.clock.set(1_000_000 + ((i * 7919) % 12) * 1000); // access order unrelated to insertion order
        const layers = pool.filter((_, j) => (i + j) % 3 !== 0);
        images.push((await putImage(c.index, repo(`team/app${i % 4}`, `v${i}`), `img${i}`, layers, c.store)).digest);
      }
      const before = new Set(c.index.blobDigests());
      const total = c.total();
      const result = await evict(c.index, c.store.blobs, policy(total / 2, total / 4));
      assert.ok(result.victims > 0);
      await assertKeptManifestsAreWhole(c, before);
      assert.equal(c.total(), result.totalAfter);
    }));
});
