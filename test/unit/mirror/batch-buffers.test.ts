// The fill's batch buffers (src/mirror/batch-buffers.ts): a bounded pool, and a buffer goes back to it only once
// its batches are on disk and out of the fill's in-memory window (never while a follower may still copy from it).
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import type { Digest } from '../../../src/registry/digest.js';
import { BatchBufferPool, batchBuffers, SharedBatchBuffer } from '../../../src/mirror/batch-buffers.js';
import { BlobFill } from '../../../src/mirror/blob-fill.js';
import { TransientChunks } from '../../support/fake/transient-body.js';

const KiB = 1024;
const sha = (b: Buffer) => `sha256:${createHash('sha256').update(b).digest('hex')}` as Digest;

describe('the batch buffer pool', () => {
  test('reuses a buffer given back, keeps at most its bound free and drops the rest', () => {
    const pool = new BatchBufferPool(64, 2);
    const a = pool.take();
    const b = pool.take();
    const c = pool.take();
    assert.equal(pool.made, 3);
    for (const x of [a, b, c]) pool.giveBack(x);
    assert.equal(pool.freeCount, 2);
    const again = pool.take();
    assert.ok(again === b || again === c);
    assert.equal(pool.made, 3);
  });

  test('once no buffer is out, the free buffers are let go one an idle time, and a later fill makes new ones', async () => {
    const pool = new BatchBufferPool(64, 4, 20);
    const a = pool.take();
    const b = pool.take();
    pool.giveBack(a);
    await new Promise((resolve) => setTimeout(resolve, 60));
    assert.equal(pool.freeCount, 1, 'kept while a buffer is still out');
    pool.giveBack(b);
    assert.equal(pool.freeCount, 2);
    // One at a time, one idle time apart (a busy machine may stretch it).
    for (let i = 0; i < 50 && pool.freeCount > 0; i++) await new Promise((resolve) => setTimeout(resolve, 20));
    assert.equal(pool.freeCount, 0);
    assert.deepEqual([a.length, b.length], [64, 64], 'let go, never detached under a possible reader');
    const c = pool.take();
    assert.equal(c.length, 64);
    assert.equal(pool.made, 3);
  });

  test('fills a little more than the idle time apart remake one buffer each, not their whole working set', async () => {
    // A buffer let go is collected only with a full collection: remaking a working set each time would pile them up.
    const pool = new BatchBufferPool(64, 8, 30);
    for (let fill = 0; fill < 4; fill++) {
      const taken = Array.from({ length: 8 }, () => pool.take());
      for (const buffer of taken) pool.giveBack(buffer);
      await new Promise((resolve) => setTimeout(resolve, 40));
    }
    assert.ok(pool.made <= 8 + 3, `${pool.made} buffers made for 4 fills of 8`);
  });

  test('a buffer taken before the idle time is up keeps the free ones', async () => {
    const pool = new BatchBufferPool(64, 4, 40);
    pool.giveBack(pool.take());
    const again = pool.take();
    await new Promise((resolve) => setTimeout(resolve, 80));
    assert.equal(pool.made, 1);
    assert.equal(again.length, 64);
    pool.giveBack(again);
    assert.equal(pool.freeCount, 1);
  });

  test('a buffer for fewer bytes than a batch is made to size and never pooled', () => {
    const pool = new BatchBufferPool(64, 2);
    const small = pool.take(10);
    assert.equal(small.length, 10);
    pool.giveBack(small);
    assert.equal(pool.freeCount, 0);
    assert.equal(pool.made, 0);
  });

  test('a shared buffer goes back once the fill and every batch cut from it have let it go', () => {
    const pool = new BatchBufferPool(64, 4);
    const shared = new SharedBatchBuffer(1000, pool);
    shared.filled = 10;
    const first = shared.cutBatch();
    shared.filled = 30;
    const second = shared.cutBatch();
    assert.deepEqual([first.byteOffset - shared.bytes.byteOffset, first.length, second.length], [0, 10, 20]);
    shared.release();
    shared.release();
    assert.equal(pool.freeCount, 0, 'one batch still holds it');
    shared.release();
    assert.equal(pool.freeCount, 1);
  });
});

describe('a fill and its batch buffers', () => {
  test('a slow follower reading while later batches arrive gets exact bytes, with buffers poisoned the moment they go back', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'pullgate-batches-'));
    const bytes = randomBytes(24 * 1024 * 1024 + 11);
    const giveBack = batchBuffers.giveBack.bind(batchBuffers);
    let givenBack = 0;
    // A buffer given back too early (a write still running, a batch still in `recent`) would hand garbage on.
    batchBuffers.giveBack = (buffer: Buffer) => {
      givenBack++;
      buffer.fill(0xee);
      giveBack(buffer);
    };
    const madeBefore = batchBuffers.made;
    try {
      const committed: Digest[] = [];
      const source = new TransientChunks(bytes, { chunkBytes: 16 * KiB + 3 });
      const fill = new BlobFill(sha(bytes), bytes.length, join(dir, 'f.part'), source, async (path) => void committed.push(sha(await readFile(path))), 10_000);
      const read = async (pauseEvery: number): Promise<Buffer> => {
        const reader = fill.reader({ start: 0, end: bytes.length - 1 })!;
        const buffer = Buffer.alloc(37 * KiB);
        const got: Buffer[] = [];
        for (let position = 0, n = 0; ; n++) {
          const length = await reader.readInto(buffer, position);
          if (length === 0) break;
          got.push(Buffer.from(buffer.subarray(0, length)));
          position += length;
          // Slow: it falls behind the in-memory window, then reads from memory and file in turn.
          if (n % pauseEvery === 0) await new Promise((r) => setTimeout(r, 1));
        }
        reader.destroy();
        return Buffer.concat(got);
      };
      const [slow, slower] = await Promise.all([read(3), read(1)]);
      await fill.finished;
      assert.equal(fill.state, 'done', String(fill.error));
      assert.ok(slow.equals(bytes), 'the slow follower got exact bytes');
      assert.ok(slower.equals(bytes), 'the slower follower got exact bytes');
      assert.deepEqual(committed, [sha(bytes)], 'the temp file holds exact bytes');
      assert.ok(givenBack >= 40, `${givenBack} buffers given back`);
      assert.ok(batchBuffers.made - madeBefore < 40, `${batchBuffers.made - madeBefore} buffers made for 49 batches`);
    } finally {
      batchBuffers.giveBack = giveBack;
      await rm(dir, { recursive: true, force: true });
    }
  });

  test('a fill copies the chunks it is handed: a body that overwrites each chunk after the call still fills exact', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'pullgate-batches-'));
    try {
      const bytes = randomBytes(3 * 1024 * 1024 + 5);
      const fill = new BlobFill(sha(bytes), bytes.length, join(dir, 'g.part'), new TransientChunks(bytes, { chunkBytes: 1000 }), async () => undefined, 10_000);
      await fill.finished;
      assert.equal(fill.state, 'done', String(fill.error));
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
