import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { text } from 'node:stream/consumers';
import type { Digest } from '../../../src/registry/digest.js';
import { DiskBlobStore } from '../../../src/cache/disk-blob-store.js';
import { DiskTempFiles } from '../../../src/cache/temp-files.js';
import { sha256, tempDirs } from './cache-fixtures.js';

const dirs = tempDirs();
after(() => dirs.removeAll());

const content = 'the quick brown fox jumps over the lazy dog';
const digest = sha256(content);

async function storeWithBlob(): Promise<{ dir: string; store: DiskBlobStore; temp: DiskTempFiles }> {
  const dir = await dirs.make();
  const store = new DiskBlobStore(dir);
  const temp = new DiskTempFiles(dir);
  const path = await temp.create();
  await writeFile(path, content);
  await store.commit(digest, path);
  return { dir, store, temp };
}

describe('DiskBlobStore', () => {
  it('commits a temp file to blobs/<algorithm>/<two hex>/<hex> and leaves no temp behind', async () => {
    const { dir, store, temp } = await storeWithBlob();
    const hex = digest.slice('sha256:'.length);
    assert.equal(store.pathOf(digest), join(dir, 'blobs', 'sha256', hex.slice(0, 2), hex));
    assert.deepEqual(await readdir(join(dir, 'blobs', 'sha256', hex.slice(0, 2))), [hex]);
    assert.deepEqual(await readdir(temp.dir), []);
    assert.equal(await store.stat(digest), content.length);
  });

  it('opens the whole blob', async () => {
    const { store } = await storeWithBlob();
    const stream = await store.open(digest);
    assert.ok(stream);
    assert.equal(await text(stream), content);
  });

  const spans: Array<[string, { start: number; end: number }, string]> = [
    ['the first byte', { start: 0, end: 0 }, 't'],
    ['a middle span, end inclusive', { start: 4, end: 8 }, 'quick'],
    ['the last byte', { start: content.length - 1, end: content.length - 1 }, 'g'],
    ['a span running past the end, cut at the end', { start: 40, end: 1000 }, 'dog'],
  ];
  for (const [name, span, expected] of spans) {
    it(`opens ${name}`, async () => {
      const { store } = await storeWithBlob();
      const stream = await store.open(digest, span);
      assert.ok(stream);
      assert.equal(await text(stream), expected);
    });
  }

  for (const span of [{ start: 5, end: 2 }, { start: -1, end: 2 }, { start: 0.5, end: 2 }]) {
    it(`refuses the span ${span.start}-${span.end} instead of serving something else`, async () => {
      const { store } = await storeWithBlob();
      await assert.rejects(store.open(digest, span), { code: 'BLOB_SPAN_INVALID' });
    });
  }

  it('committing a digest already stored drops the temp file and keeps the stored one', async () => {
    const { store, temp } = await storeWithBlob();
    const second = await temp.create();
    await writeFile(second, 'would-be replacement');
    await store.commit(digest, second);
    assert.deepEqual(await readdir(temp.dir), []);
    const stream = await store.open(digest);
    assert.ok(stream);
    assert.equal(await text(stream), content);
  });

  it('a blob not stored is undefined to stat and open, and removing it is not an error', async () => {
    const store = new DiskBlobStore(await dirs.make());
    const absent = sha256('absent');
    assert.equal(await store.stat(absent), undefined);
    assert.equal(await store.open(absent), undefined);
    await store.remove(absent);
  });

  it('removes a blob', async () => {
    const { store } = await storeWithBlob();
    await store.remove(digest);
    assert.equal(await store.stat(digest), undefined);
  });

  it('a stream opened before a remove still reads every byte', async () => {
    const { store } = await storeWithBlob();
    const stream = await store.open(digest);
    await store.remove(digest);
    assert.ok(stream);
    assert.equal(await text(stream), content);
  });

  it('lists committed blobs with their sizes and skips anything that is not a well-placed digest file', async () => {
    const { dir, store } = await storeWithBlob();
    const other = sha256('other');
    const hex = other.slice('sha256:'.length);
    await mkdir(join(dir, 'blobs', 'sha256', hex.slice(0, 2)), { recursive: true });
    await writeFile(join(dir, 'blobs', 'sha256', hex.slice(0, 2), hex), 'other');
    await writeFile(join(dir, 'blobs', 'sha256', hex.slice(0, 2), 'not-a-digest'), 'x');
    await mkdir(join(dir, 'blobs', 'sha256', 'zz'), { recursive: true });
    await writeFile(join(dir, 'blobs', 'sha256', 'zz', hex), 'misplaced');
    await mkdir(join(dir, 'blobs', 'md5', 'ab'), { recursive: true });
    await writeFile(join(dir, 'blobs', 'md5', 'ab', 'abcdef'), 'unsupported algorithm');
    const listed: Array<{ digest: Digest; size: number }> = [];
    for await (const entry of store.list()) listed.push(entry);
    assert.deepEqual(
      listed.sort((a, b) => a.digest.localeCompare(b.digest)),
      [{ digest, size: content.length }, { digest: other, size: 5 }].sort((a, b) => a.digest.localeCompare(b.digest)),
    );
  });

  it('lists nothing for an empty data directory', async () => {
    const store = new DiskBlobStore(await dirs.make());
    for await (const entry of store.list()) assert.fail(`unexpected ${entry.digest}`);
  });

  it('never builds a path from a string that only claims to be a digest', async () => {
    const store = new DiskBlobStore(await dirs.make());
    assert.throws(() => store.pathOf('sha256:../../etc/passwd' as Digest), { code: 'DIGEST_INVALID' });
  });
});
