import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { open, unlink, writeFile } from 'node:fs/promises';
import type { Digest } from '../../../src/registry/digest.js';
import { verifyCache } from '../../../src/cache/verify.js';
import { blobContent, capturedLog, commitBlob, putImage, sha256, tempDirs, withStore, type StoreFixture } from './cache-fixtures.js';

const dirs = tempDirs();
after(() => dirs.removeAll());

const alpine = { upstream: 'hub', repository: 'library/alpine', tag: 'latest' };
const busybox = { upstream: 'hub', repository: 'library/busybox', tag: 'latest' };
const layer = (name: string, size: number): Digest => sha256(blobContent(name, size));

type Cache = StoreFixture;

const withCache = (test: (c: Cache) => Promise<void>): Promise<void> => withStore(dirs, test);

async function flipByte(path: string, at: number): Promise<void> {
  const handle = await open(path, 'r+');
  try {
    const byte = Buffer.alloc(1);
    await handle.read(byte, 0, 1, at);
    byte[0] = (byte[0] ?? 0) ^ 0x01;
    await handle.write(byte, 0, 1, at);
  } finally {
    await handle.close();
  }
}

describe('verifyCache', () => {
  it('a sound cache verifies clean and keeps everything', () =>
    withCache(async (c) => {
      await putImage(c.index, alpine, 'a', [['x', 1000], ['y', 10]], c.store);
      const report = await verifyCache(c.store.blobs, c.index);
      assert.deepEqual(report, { checked: 2, bad: 0, missing: 0, orphaned: 0, adopted: 0, manifests: 0 });
      assert.equal((await c.files()).length, 2);
    }));

  it('catches a flipped byte: the blob, its file and the manifests that referenced it go, other images stay', () =>
    withCache(async (c) => {
      const a = await putImage(c.index, alpine, 'a', [['x', 1000], ['a-only', 10]], c.store);
      const b = await putImage(c.index, busybox, 'b', [['b', 10]], c.store);
      await flipByte(c.store.blobs.pathOf(layer('x', 1000)), 500);
      const { log, lines } = capturedLog();
      const report = await verifyCache(c.store.blobs, c.index, log);
      const { checked, ...rest } = report;
      assert.deepEqual(rest, { bad: 1, missing: 0, orphaned: 0, adopted: 0, manifests: 1 });
      // "a-only" is checked unless the purge of the bad blob removed it first (listing order is by hash).
      assert.ok(checked === 2 || checked === 3);
      assert.equal(c.index.blob(layer('x', 1000)), undefined);
      assert.equal(c.index.manifest(a.digest), undefined);
      assert.equal(c.index.tag('hub', 'library/alpine', 'latest'), undefined);
      assert.ok(c.index.manifest(b.digest));
      assert.deepEqual(await c.files(), [layer('b', 10)], 'the bad file and what only its manifest kept are gone');
      assert.ok(lines.some((l) => l.msg === 'removed a corrupt blob' && l.digest === layer('x', 1000)));
    }));

  it('a file whose size differs from its row is bad even when it hashes right', () =>
    withCache(async (c) => {
      await putImage(c.index, alpine, 'a', [['x', 10]], c.store);
      c.db.prepare(`UPDATE blobs SET size = 11`).run();
      const report = await verifyCache(c.store.blobs, c.index);
      assert.equal(report.bad, 1);
      assert.equal(c.index.totals().blobs, 0);
    }));

  it('a row whose file is missing is dropped with the manifests that referenced it', () =>
    withCache(async (c) => {
      const a = await putImage(c.index, alpine, 'a', [['x', 10], ['y', 10]], c.store);
      await unlink(c.store.blobs.pathOf(layer('x', 10)));
      const report = await verifyCache(c.store.blobs, c.index);
      assert.deepEqual(report, { checked: 1, bad: 0, missing: 1, orphaned: 0, adopted: 0, manifests: 1 });
      assert.equal(c.index.manifest(a.digest), undefined);
      assert.deepEqual(c.index.blobDigests(), []);
      assert.deepEqual(await c.files(), []);
    }));

  it('a verified file without a row is adopted when a stored manifest references it', () =>
    withCache(async (c) => {
      const a = await putImage(c.index, alpine, 'a', [['x', 10]], c.store);
      c.db.prepare(`DELETE FROM blobs`).run();
      const report = await verifyCache(c.store.blobs, c.index);
      assert.deepEqual(report, { checked: 1, bad: 0, missing: 0, orphaned: 1, adopted: 1, manifests: 0 });
      assert.equal(c.index.blob(layer('x', 10))?.size, 10);
      assert.ok(c.index.manifest(a.digest));
    }));

  it('a file without a row that nothing references is removed', () =>
    withCache(async (c) => {
      const stray = sha256('stray');
      await commitBlob(c.store, stray, Buffer.from('stray'));
      const report = await verifyCache(c.store.blobs, c.index);
      assert.deepEqual(report, { checked: 1, bad: 0, missing: 0, orphaned: 1, adopted: 0, manifests: 0 });
      assert.deepEqual(await c.files(), []);
    }));

  it('a corrupt file without a row is removed as bad, never adopted', () =>
    withCache(async (c) => {
      await putImage(c.index, alpine, 'a', [['x', 10]], c.store);
      c.db.prepare(`DELETE FROM blobs`).run();
      await writeFile(c.store.blobs.pathOf(layer('x', 10)), 'tampered!!');
      const report = await verifyCache(c.store.blobs, c.index);
      assert.deepEqual([report.bad, report.adopted], [1, 0]);
      assert.deepEqual(await c.files(), []);
      assert.equal(c.index.blob(layer('x', 10)), undefined);
    }));
});
