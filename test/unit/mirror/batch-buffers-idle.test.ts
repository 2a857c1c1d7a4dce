// The fill's batch buffer pool lets its free buffers go once no fill has held one for a while (batch-buffers.ts):
// fills that fail in every way, at once, with followers holding lent batches and copying ones mid-read, still give
// every buffer back, so the pool comes to rest and lets them go, one a second (docs/operating.md, "Memory").
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { test } from 'node:test';
import { batchBufferBytes, batchBuffers } from '../../../src/mirror/batch-buffers.js';
import { BlobFill } from '../../../src/mirror/blob-fill.js';
import { parseDigest } from '../../../src/registry/digest.js';
import { readableChunks } from '../../../src/upstream/chunk-source.js';

const MiB = 1024 * 1024;
const sha = (b: Buffer) => parseDigest(`sha256:${createHash('sha256').update(b).digest('hex')}`);

test('concurrent fills that fail (upstream cut, too long, wrong digest) with followers mid-read and lent batches held: the pool comes to rest and lets its free buffers go', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'pullgate-batch-idle-'));
  const bytes = Buffer.alloc(3 * MiB + 5, 3);
  const madeBefore = batchBuffers.made;
  try {
    const start = (name: string, digest = sha(bytes), size = bytes.length) => {
      const upstream = new PassThrough();
      const fill = new BlobFill(digest, size, join(dir, name), readableChunks(upstream), async () => undefined, 10_000);
      return { upstream, fill };
    };
    const cut = start('cut');
    const long = start('long', sha(bytes), bytes.length - 1);
    const wrong = start('wrong', sha(Buffer.from('other')));
    const all = [cut, long, wrong];
    const half = bytes.subarray(0, 2 * MiB);
    for (const { upstream } of all) upstream.write(half);
    await new Promise((r) => setTimeout(r, 50));
    // Each fill: one follower holding a lent batch, one copying follower waiting past what the fill has.
    const held = [];
    const waiting = [];
    for (const { fill } of all) {
      const lender = fill.reader({ start: 0, end: fill.size - 1 })!;
      const lent = await lender.lend(fill.received - 10, batchBufferBytes);
      assert.ok(lent, 'a recent batch is lent');
      held.push({ lender, lent });
      const copier = fill.reader({ start: 0, end: fill.size - 1 })!;
      waiting.push({ copier, read: copier.readInto(Buffer.alloc(64 * 1024), fill.size - 1).catch((e: Error) => e) });
    }
    cut.upstream.destroy(new Error('upstream cut'));
    long.upstream.end(bytes.subarray(2 * MiB));
    wrong.upstream.end(bytes.subarray(2 * MiB));
    await Promise.all(all.map(({ fill }) => fill.finished));
    assert.deepEqual(all.map(({ fill }) => fill.state), ['failed', 'failed', 'failed']);
    for (const { copier, read } of waiting) {
      assert.ok((await read) instanceof Error, 'a copying follower of a failed fill fails');
      copier.destroy();
    }
    // The lent batches are still held: the pool is not at rest, its free buffers stay.
    const freeWhileLent = batchBuffers.freeCount;
    assert.ok(freeWhileLent > 0);
    await new Promise((r) => setTimeout(r, 1300));
    assert.equal(batchBuffers.freeCount, freeWhileLent, 'free buffers kept while a lent batch is out');
    for (const { lender, lent } of held) {
      lent.release();
      lender.destroy();
    }
    const freeAtRest = batchBuffers.freeCount;
    assert.ok(freeAtRest > freeWhileLent, 'the lent batches came back');
    // At rest: one free buffer let go a second, the first within a second or so.
    await new Promise((r) => setTimeout(r, 1300));
    assert.ok(batchBuffers.freeCount < freeAtRest, 'every buffer came back: the pool lets its free ones go');
    assert.ok(batchBuffers.made - madeBefore >= 3, `${batchBuffers.made - madeBefore} buffers made`);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
