import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { Digest } from '../../../src/registry/digest.js';
import type { SqliteCacheIndex } from '../../../src/cache/sqlite-cache-index.js';
import { openIndex, putImage, putIndex, sha256, tempDirs, type IndexFixture } from './cache-fixtures.js';

const dirs = tempDirs();
after(() => dirs.removeAll());

const alpine = { upstream: 'hub', repository: 'library/alpine' };
const busybox = { upstream: 'hub', repository: 'library/busybox' };
const gcrAlpine = { upstream: 'gcr', repository: 'library/alpine' };

const stored = (index: SqliteCacheIndex, d: Digest): boolean => index.manifest(d) !== undefined || index.blob(d) !== undefined;

/** No stored manifest references a blob that was stored and is now gone. */
function assertNoManifestLostABlob(f: IndexFixture, before: Set<string>): void {
  const refs = f.db.prepare<[], { manifest: string; child: string }>(`SELECT manifest, child FROM manifest_refs WHERE kind = 'blob'`).all();
  for (const { manifest, child } of refs) {
    if (before.has(child)) assert.ok(f.index.blob(child as Digest), `${manifest} kept but its blob ${child} is gone`);
  }
}
const storedBlobs = (f: IndexFixture): Set<string> =>
  new Set(f.db.prepare<[], string>(`SELECT digest FROM blobs`).pluck().all());

async function withIndex(test: (f: IndexFixture) => Promise<void>): Promise<void> {
  const f = await openIndex(dirs);
  try {
    await test(f);
  } finally {
    f.close();
  }
}

describe('purge by tag', () => {
  it('removes the image and the blobs only it referenced; a layer another image uses stays', () =>
    withIndex(async ({ index }) => {
      const a = await putImage(index, { ...alpine, tag: '3.19' }, 'a', [['base', 100], ['a-only', 10]]);
      const b = await putImage(index, { ...alpine, tag: '3.20' }, 'b', [['base', 100], ['b-only', 20]]);
      const result = index.purge({ ...alpine, tag: '3.19' });
      assert.equal(stored(index, a.digest), false);
      assert.equal(stored(index, b.digest), true);
      assert.deepEqual(result.removedBlobs, [sha256(Buffer.alloc(10, 'a-only'))]);
      assert.equal(index.blob(sha256(Buffer.alloc(100, 'base'))) !== undefined, true);
      const manifestSize = Buffer.from(JSON.stringify({ schemaVersion: 2, name: 'a', layers: a.layers })).length;
      assert.deepEqual({ ...result, removedBlobs: [] }, { manifests: 1, blobs: 1, tags: 1, bytes: manifestSize + 10, removedBlobs: [] });
      assert.equal(index.tag('hub', 'library/alpine', '3.19'), undefined);
    }));

  it('keeps the image while another tag of the repository points at it', () =>
    withIndex(async ({ index }) => {
      const a = await putImage(index, { ...alpine, tag: 'latest' }, 'a', [['x', 10]]);
      index.putTag('hub', 'library/alpine', '3.20', a.digest);
      const result = index.purge({ ...alpine, tag: 'latest' });
      assert.deepEqual(result, { manifests: 0, blobs: 0, tags: 1, bytes: 0, removedBlobs: [] });
      assert.ok(index.manifest(a.digest) && index.isManifestLinked(a.digest, 'hub', 'library/alpine'));
      assert.ok(index.isBlobLinked(a.layers[0] as Digest, 'hub', 'library/alpine'));
    }));

  it('keeps the image while another repository or upstream has it, and drops only this repository\'s links', () =>
    withIndex(async ({ index }) => {
      const a = await putImage(index, { ...alpine, tag: 'latest' }, 'a', [['x', 10]]);
      await putImage(index, { ...gcrAlpine, tag: 'latest' }, 'a', [['x', 10]]);
      const result = index.purge({ ...alpine, tag: 'latest' });
      assert.equal(result.manifests + result.blobs, 0);
      assert.ok(index.manifest(a.digest));
      assert.equal(index.isManifestLinked(a.digest, 'hub', 'library/alpine'), false);
      assert.equal(index.isBlobLinked(a.layers[0] as Digest, 'hub', 'library/alpine'), false);
      assert.equal(index.isManifestLinked(a.digest, 'gcr', 'library/alpine'), true);
    }));

  it('removes an index with its children and their blobs, keeping what a child shares with another image', () =>
    withIndex(async (f) => {
      const { index } = f;
      const amd64 = await putImage(index, alpine, 'amd64', [['base', 100], ['amd64', 30]]);
      const arm64 = await putImage(index, alpine, 'arm64', [['arm64', 40]]);
      const list = putIndex(index, { ...alpine, tag: 'latest' }, [amd64.digest, arm64.digest, sha256('s390x, never pulled')]);
      const other = await putImage(index, { ...busybox, tag: 'latest' }, 'other', [['base', 100]]);
      const before = storedBlobs(f);
      const result = index.purge({ ...alpine, tag: 'latest' });
      for (const gone of [list, amd64.digest, arm64.digest, sha256(Buffer.alloc(30, 'amd64')), sha256(Buffer.alloc(40, 'arm64'))]) {
        assert.equal(stored(index, gone), false, gone);
      }
      assert.ok(index.manifest(other.digest) && index.blob(sha256(Buffer.alloc(100, 'base'))));
      assert.equal(result.manifests, 3);
      assert.equal(result.blobs, 2);
      assertNoManifestLostABlob(f, before);
    }));

  it('keeps content of the repository pulled by digest that is not part of the tag\'s image', () =>
    withIndex(async ({ index }) => {
      const tagged = await putImage(index, { ...alpine, tag: 'latest' }, 'tagged', [['x', 10]]);
      const byDigest = await putImage(index, alpine, 'pinned-by-digest', [['x', 10], ['y', 20]]);
      const loose = sha256('loose blob');
      index.putBlob(loose, 3, 'hub', 'library/alpine');
      index.purge({ ...alpine, tag: 'latest' });
      assert.equal(index.manifest(tagged.digest), undefined);
      assert.ok(index.manifest(byDigest.digest));
      assert.ok(index.blob(loose));
      // The shared layer stays linked: the by-digest image still explains it.
      assert.ok(index.blob(tagged.layers[0] as Digest));
      assert.equal(index.isBlobLinked(tagged.layers[0] as Digest, 'hub', 'library/alpine'), true);
    }));

  it('a tag that moved leaves its old image linked until its repository is purged', () =>
    withIndex(async ({ index }) => {
      const old = await putImage(index, { ...alpine, tag: 'latest' }, 'old', [['x', 10]]);
      const fresh = await putImage(index, { ...alpine, tag: 'latest' }, 'new', [['y', 10]]);
      index.purge({ ...alpine, tag: 'latest' });
      assert.equal(index.manifest(fresh.digest), undefined);
      assert.ok(index.manifest(old.digest));
      const result = index.purge(alpine);
      assert.equal(index.manifest(old.digest), undefined);
      assert.equal(result.manifests, 1);
    }));
});

describe('purge by repository and upstream', () => {
  it('a repository purge removes its tags, links and what only it kept', () =>
    withIndex(async (f) => {
      const { index } = f;
      const a = await putImage(index, { ...alpine, tag: 'latest' }, 'a', [['base', 100], ['a', 10]]);
      const b = await putImage(index, { ...busybox, tag: 'latest' }, 'b', [['base', 100]]);
      const before = storedBlobs(f);
      const result = index.purge(alpine);
      assert.equal(index.manifest(a.digest), undefined);
      assert.ok(index.manifest(b.digest));
      assert.ok(index.blob(sha256(Buffer.alloc(100, 'base'))));
      assert.equal(index.isBlobLinked(sha256(Buffer.alloc(100, 'base')), 'hub', 'library/alpine'), false);
      assert.deepEqual([result.manifests, result.blobs, result.tags], [1, 1, 1]);
      assertNoManifestLostABlob(f, before);
    }));

  it('keeps a layer that an image of another repository references without ever having fetched it there', () =>
    withIndex(async (f) => {
      const { index } = f;
      await putImage(index, { ...alpine, tag: 'latest' }, 'a', [['base', 100]]);
      // The client pulling busybox already had the base layer: the manifest references it, no blob link under busybox.
      const bytes = Buffer.from('{"busybox": "over base"}');
      const b = sha256(bytes);
      const base = sha256(Buffer.alloc(100, 'base'));
      index.putManifest({ digest: b, mediaType: 'application/vnd.oci.image.manifest.v1+json', bytes }, { blobs: [base], manifests: [] }, 'hub', 'library/busybox');
      index.putTag('hub', 'library/busybox', 'latest', b);
      const before = storedBlobs(f);
      index.purge(alpine);
      assert.ok(index.manifest(b));
      assert.ok(index.blob(base));
      assertNoManifestLostABlob(f, before);
    }));

  it('an upstream purge removes every repository of that upstream and keeps what another upstream has', () =>
    withIndex(async ({ index }) => {
      const a = await putImage(index, { ...alpine, tag: 'latest' }, 'a', [['base', 100]]);
      const b = await putImage(index, { ...busybox, tag: 'latest' }, 'b', [['b', 10]]);
      const g = await putImage(index, { ...gcrAlpine, tag: 'latest' }, 'g', [['base', 100]]);
      const result = index.purge({ upstream: 'hub' });
      assert.equal(index.manifest(a.digest), undefined);
      assert.equal(index.manifest(b.digest), undefined);
      assert.ok(index.manifest(g.digest) && index.blob(sha256(Buffer.alloc(100, 'base'))));
      assert.deepEqual([result.manifests, result.blobs, result.tags], [2, 1, 2]);
      assert.equal(index.totals().tags, 1);
    }));
});

describe('purge by digest', () => {
  it('a manifest goes with every tag pointing at it, in every repository, and what only it kept', () =>
    withIndex(async ({ index }) => {
      const a = await putImage(index, { ...alpine, tag: 'latest' }, 'a', [['base', 100], ['a', 10]]);
      index.putTag('hub', 'library/busybox', 'weird', a.digest);
      index.linkManifest(a.digest, 'hub', 'library/busybox');
      const keep = await putImage(index, { ...busybox, tag: 'latest' }, 'keep', [['base', 100]]);
      const result = index.purge({ digest: a.digest });
      assert.equal(index.manifest(a.digest), undefined);
      assert.equal(index.tag('hub', 'library/busybox', 'weird'), undefined);
      assert.equal(result.tags, 2);
      assert.deepEqual(result.removedBlobs, [sha256(Buffer.alloc(10, 'a'))]);
      assert.ok(index.manifest(keep.digest) && index.blob(sha256(Buffer.alloc(100, 'base'))));
    }));

  it('a blob takes every manifest that references it along; an index over such a manifest stays', () =>
    withIndex(async (f) => {
      const { index } = f;
      const amd64 = await putImage(index, alpine, 'amd64', [['shared', 50], ['amd64', 30]]);
      const arm64 = await putImage(index, alpine, 'arm64', [['arm64', 40]]);
      const list = putIndex(index, { ...alpine, tag: 'latest' }, [amd64.digest, arm64.digest]);
      const other = await putImage(index, { ...busybox, tag: 'latest' }, 'other', [['shared', 50], ['other', 5]]);
      const before = storedBlobs(f);
      const result = index.purge({ digest: sha256(Buffer.alloc(50, 'shared')) });
      assert.equal(index.manifest(amd64.digest), undefined);
      assert.equal(index.manifest(other.digest), undefined);
      assert.equal(index.tag('hub', 'library/busybox', 'latest'), undefined);
      assert.ok(index.manifest(list) && index.manifest(arm64.digest) && index.blob(sha256(Buffer.alloc(40, 'arm64'))));
      assert.equal(index.blob(sha256(Buffer.alloc(30, 'amd64'))), undefined, 'what only the removed child kept goes');
      assert.equal(index.blob(sha256(Buffer.alloc(5, 'other'))), undefined);
      assert.equal(result.manifests, 2);
      assert.equal(result.blobs, 3);
      assertNoManifestLostABlob(f, before);
    }));

  it('a blob pulled by digest alone goes with its links', () =>
    withIndex(async ({ index }) => {
      const loose = sha256('loose');
      index.putBlob(loose, 7, 'hub', 'library/alpine');
      assert.deepEqual(index.purge({ digest: loose }), { manifests: 0, blobs: 1, tags: 0, bytes: 7, removedBlobs: [loose] });
      assert.equal(index.isBlobLinked(loose, 'hub', 'library/alpine'), false);
    }));
});

describe('purge of what is not there', () => {
  const cases: Array<[string, Parameters<SqliteCacheIndex['purge']>[0]]> = [
    ['an unknown tag', { ...alpine, tag: 'nope' }],
    ['an unknown repository', { upstream: 'hub', repository: 'nobody/nothing' }],
    ['an unknown upstream', { upstream: 'quay' }],
    ['an unknown digest', { digest: sha256('nothing') }],
  ];
  for (const [name, target] of cases) {
    it(`${name} removes nothing`, () =>
      withIndex(async ({ index }) => {
        await putImage(index, { ...alpine, tag: 'latest' }, 'a', [['x', 10]]);
        const totals = index.totals();
        assert.deepEqual(index.purge(target), { manifests: 0, blobs: 0, tags: 0, bytes: 0, removedBlobs: [] });
        assert.deepEqual(index.totals(), totals);
      }));
  }
});
