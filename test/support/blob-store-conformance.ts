// One behaviour for every BlobStore (src/cache/ports.ts): the same tests run against the disk store and the S3
// store (test/integration/blob-store-disk.test.ts, test/e2e/blob-store-s3.test.ts). Each test uses blobs of its
// own seed, so tests share one store without resetting it.
import assert from 'node:assert/strict';
import { createHash, randomUUID } from 'node:crypto';
import { access, writeFile } from 'node:fs/promises';
import type { Readable } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import type { BlobStore, TempFiles } from '../../src/cache/ports.js';
import { parseDigest, type Digest } from '../../src/registry/digest.js';
import { Keystream } from './keystream.js';

export interface BlobStoreSubject {
  store: BlobStore;
  /** Where fills write: the temp files commit takes over. */
  temp: TempFiles;
  /** Bytes from which the store uploads in parts (S3); the large-blob test stays above it. */
  multipartThreshold?: number;
  close(): Promise<void>;
}

export interface Blob {
  digest: Digest;
  bytes: Buffer;
}

export function blobOf(seed: string, size: number): Blob {
  const bytes = new Keystream(`${seed}-${randomUUID()}`).next(size);
  return { digest: parseDigest(`sha256:${createHash('sha256').update(bytes).digest('hex')}`), bytes };
}

export async function readAll(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

const exists = (path: string): Promise<boolean> => access(path).then(() => true, () => false);

export function describeBlobStore(name: string, open: () => Promise<BlobStoreSubject>, options: { timeout?: number } = {}): void {
  describe(`${name} blob store conformance`, { timeout: options.timeout ?? 120_000 }, () => {
    let s: BlobStoreSubject;
    before(async () => {
      s = await open();
    });
    after(async () => {
      await s?.close();
    });

    const tempWith = async (bytes: Buffer): Promise<string> => {
      const path = await s.temp.create();
      await writeFile(path, bytes);
      return path;
    };
    const commit = async (blob: Blob): Promise<void> => s.store.commit(blob.digest, await tempWith(blob.bytes));
    const opened = async (digest: Digest, span?: { start: number; end: number }): Promise<Buffer> => {
      const stream = await s.store.open(digest, span);
      assert.ok(stream, `${digest} should be stored`);
      return readAll(stream);
    };

    test('a committed blob has its size and its exact bytes, and its temp file is gone', async () => {
      const blob = blobOf('whole', 70_000);
      const temp = await tempWith(blob.bytes);
      await s.store.commit(blob.digest, temp);
      assert.equal(await exists(temp), false);
      assert.equal(await s.store.stat(blob.digest), blob.bytes.length);
      assert.deepEqual(await opened(blob.digest), blob.bytes);
    });

    test('open with a span returns exactly those bytes: the middle, the first byte and the last byte', async () => {
      const blob = blobOf('span', 10_000);
      await commit(blob);
      assert.deepEqual(await opened(blob.digest, { start: 100, end: 4_099 }), blob.bytes.subarray(100, 4_100));
      assert.deepEqual(await opened(blob.digest, { start: 0, end: 0 }), blob.bytes.subarray(0, 1));
      assert.deepEqual(await opened(blob.digest, { start: 9_999, end: 9_999 }), blob.bytes.subarray(9_999));
    });

    test('a digest never committed is not stored: stat and open give undefined, remove is a no-op', async () => {
      const missing = blobOf('missing', 10).digest;
      assert.equal(await s.store.stat(missing), undefined);
      assert.equal(await s.store.open(missing), undefined);
      assert.equal(await s.store.open(missing, { start: 0, end: 3 }), undefined);
      await s.store.remove(missing);
    });

    test('a removed blob is no longer stored nor listed', async () => {
      const blob = blobOf('remove', 2_000);
      await commit(blob);
      await s.store.remove(blob.digest);
      assert.equal(await s.store.stat(blob.digest), undefined);
      assert.equal(await s.store.open(blob.digest), undefined);
      for await (const entry of s.store.list()) assert.notEqual(entry.digest, blob.digest);
    });

    test('list yields every committed blob with its size', async () => {
      const blobs = [blobOf('list-a', 1), blobOf('list-b', 3_000), blobOf('list-c', 65_537)];
      for (const blob of blobs) await commit(blob);
      const listed = new Map<string, number>();
      for await (const { digest, size } of s.store.list()) listed.set(digest, size);
      for (const blob of blobs) assert.equal(listed.get(blob.digest), blob.bytes.length, `${blob.digest} listed with its size`);
    });

    test('committing a digest that is already stored drops the temp file and keeps the stored bytes', async () => {
      const blob = blobOf('again', 5_000);
      await commit(blob);
      const second = await tempWith(blob.bytes);
      await s.store.commit(blob.digest, second);
      assert.equal(await exists(second), false);
      assert.deepEqual(await opened(blob.digest), blob.bytes);
    });

    test('concurrent commits of one digest all succeed, leave one whole blob and no temp files', async () => {
      const blob = blobOf('race', 300_000);
      const temps = await Promise.all([1, 2, 3, 4].map(() => tempWith(blob.bytes)));
      await Promise.all(temps.map((t) => s.store.commit(blob.digest, t)));
      for (const t of temps) assert.equal(await exists(t), false);
      assert.equal(await s.store.stat(blob.digest), blob.bytes.length);
      assert.deepEqual(await opened(blob.digest), blob.bytes);
      let listed = 0;
      for await (const { digest } of s.store.list()) if (digest === blob.digest) listed++;
      assert.equal(listed, 1);
    });

    test('a 21 MiB blob (in parts where the store uploads in parts) is stored whole, spans across parts included', async () => {
      const size = 21 * 1024 * 1024 + 123;
      assert.ok(s.multipartThreshold === undefined || size > 2 * s.multipartThreshold, 'the blob spans several parts');
      const blob = blobOf('large', size);
      await commit(blob);
      assert.equal(await s.store.stat(blob.digest), size);
      const whole = await opened(blob.digest);
      assert.equal(`sha256:${createHash('sha256').update(whole).digest('hex')}`, blob.digest);
      const boundary = s.multipartThreshold ?? 8 * 1024 * 1024;
      assert.deepEqual(await opened(blob.digest, { start: boundary - 10, end: boundary + 9 }), blob.bytes.subarray(boundary - 10, boundary + 10));
      assert.deepEqual(await opened(blob.digest, { start: size - 5, end: size - 1 }), blob.bytes.subarray(size - 5));
    });

    test('while a commit is under way the blob is absent or whole, never partial, and whole once it resolves', async () => {
      const size = 24 * 1024 * 1024;
      const blob = blobOf('in-flight', size);
      const temp = await tempWith(blob.bytes);
      let settled = false;
      const committing = s.store.commit(blob.digest, temp).finally(() => {
        settled = true;
      });
      const seen: Array<number | undefined> = [];
      while (!settled) {
        const stat = await s.store.stat(blob.digest);
        seen.push(stat);
        assert.ok(stat === undefined || stat === size, `stat saw ${stat} of ${size} bytes`);
        for await (const { digest, size: listed } of s.store.list()) if (digest === blob.digest) assert.equal(listed, size);
      }
      await committing;
      assert.ok(seen.length > 0 && seen[0] === undefined, 'the first look during the commit found nothing');
      assert.equal(await s.store.stat(blob.digest), size);
    });
  });
}
