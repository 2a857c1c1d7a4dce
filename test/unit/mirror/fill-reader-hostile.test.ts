// A fill's readers as the server reads them (`readInto` into reused buffers, src/server/send-file.ts) against
// hostile upstream bodies: 1-byte chunks, a corrupted or missing last byte, a stall; slow and fast readers, ranged
// and whole, every byte checked (docs/architecture.md, "Decision: blobs stream, verify, then commit").
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import type { Digest } from '../../../src/registry/digest.js';
import { readableChunks } from '../../../src/upstream/chunk-source.js';
import { BlobFill } from '../../../src/mirror/blob-fill.js';
import type { FillReader } from '../../../src/mirror/fill-reader.js';

const sha = (b: Buffer) => `sha256:${createHash('sha256').update(b).digest('hex')}` as Digest;
const tick = () => new Promise((r) => setImmediate(r));

/** An upstream body in chunks of the given sizes (cycled), yielding to the event loop every `every` chunks. */
function upstream(bytes: Buffer, sizes: number[], every = 50): Readable {
  async function* gen(): AsyncGenerator<Buffer> {
    for (let at = 0, k = 0; at < bytes.length; k++) {
      const n = sizes[k % sizes.length] as number;
      yield bytes.subarray(at, at + n);
      at += n;
      if (k % every === 0) await tick();
    }
  }
  return Readable.from(gen(), { objectMode: false });
}

/**
 * Reads `reader` the way the server does (one reused buffer of `bufferBytes`), copying what it got; `pause` between
 * reads makes a slow client. Records whether the blob's last byte ever came before the fill was verified.
 */
async function readAll(fill: BlobFill, reader: FillReader, end: number, bufferBytes: number, pause = 0): Promise<{ bytes: Buffer; early: boolean }> {
  const buffer = Buffer.alloc(bufferBytes);
  const parts: Buffer[] = [];
  let position = reader.start;
  let early = false;
  try {
    for (;;) {
      const n = await reader.readInto(buffer, position);
      if (n === 0) break;
      assert.ok(n <= buffer.length && position + n <= end + 1, `read of ${n} at ${position} within the span`);
      if (position + n === fill.size && !fill.readable) early = true;
      parts.push(Buffer.from(buffer.subarray(0, n)));
      position += n;
      if (pause) await new Promise((r) => setTimeout(r, pause));
    }
  } finally {
    reader.destroy();
  }
  return { bytes: Buffer.concat(parts), early };
}

describe('a fill\'s readers against hostile upstream bodies', () => {
  let dir: string;
  let n = 0;
  const temp = () => join(dir, `f${n++}.part`);
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'pullgate-fill-hostile-'));
  });
  after(() => rm(dir, { recursive: true, force: true }));

  test('an upstream of 1-byte chunks: fast, slow and ranged readers get every byte exact', async () => {
    const bytes = randomBytes(96 * 1024 + 13);
    const fill = new BlobFill(sha(bytes), bytes.length, temp(), readableChunks(upstream(bytes, [1], 97)), async () => undefined, 10_000);
    const spans = [
      { start: 0, end: bytes.length - 1, buffer: 4096, pause: 0 },
      { start: 0, end: bytes.length - 1, buffer: 700, pause: 2 },
      { start: 255, end: 257, buffer: 1, pause: 0 },
      { start: 1000, end: 70_000, buffer: 333, pause: 1 },
      { start: bytes.length - 1, end: bytes.length - 1, buffer: 10, pause: 0 },
    ];
    const got = await Promise.all(spans.map((s) => readAll(fill, fill.reader(s)!, s.end, s.buffer, s.pause)));
    await fill.finished;
    assert.equal(fill.state, 'done');
    for (const [k, s] of spans.entries()) {
      assert.ok(got[k]!.bytes.equals(bytes.subarray(s.start, s.end + 1)), `span ${s.start}-${s.end}`);
      assert.equal(got[k]!.early, false, 'the last byte waited for the verification');
    }
  });

  test('many concurrent followers with random spans and buffers over random upstream chunks: every byte exact', async () => {
    const bytes = randomBytes(5 * 1024 * 1024 + 11);
    // Deterministic: the same chunks and spans on every run.
    let seed = 7;
    const random = (below: number) => ((seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31), seed % below);
    const sizes = Array.from({ length: 64 }, (_, i) => (i % 5 === 0 ? 1 + (i % 3) : 1 + random(96 * 1024)));
    const fill = new BlobFill(sha(bytes), bytes.length, temp(), readableChunks(upstream(bytes, sizes, 3)), async () => undefined, 10_000);
    const spans = Array.from({ length: 40 }, (_, i) => {
      const start = i < 4 ? 0 : random(bytes.length);
      const buffer = [1, 17, 64 * 1024, 512 * 1024][i % 4] as number;
      let end = i % 3 === 0 ? bytes.length - 1 : start + random(bytes.length - start);
      // Tiny buffers over megabytes take long: those get short spans.
      if (buffer < 4096) end = Math.min(end, start + 20_000);
      return { start, end, buffer, pause: buffer >= 64 * 1024 && i % 3 === 0 ? 5 : 0 };
    });
    const got = await Promise.all(spans.map((s) => readAll(fill, fill.reader(s)!, s.end, s.buffer, s.pause)));
    await fill.finished;
    assert.equal(fill.state, 'done');
    for (const [k, s] of spans.entries()) {
      assert.ok(got[k]!.bytes.equals(bytes.subarray(s.start, s.end + 1)), `span ${s.start}-${s.end} with a ${s.buffer}-byte buffer`);
      assert.equal(got[k]!.early, false);
    }
  });

  for (const fault of ['the last byte corrupted', 'the last byte missing', 'cut in the middle'] as const) {
    test(`an upstream body with ${fault} fails every reader, and none gets the blob's last byte`, async () => {
      const bytes = randomBytes(2 * 1024 * 1024 + 1);
      let body = Buffer.from(bytes);
      if (fault === 'the last byte corrupted') body[body.length - 1] = (body[body.length - 1] as number) ^ 0xff;
      if (fault === 'the last byte missing') body = body.subarray(0, body.length - 1);
      if (fault === 'cut in the middle') body = body.subarray(0, 1024 * 1024);
      let committed = false;
      const fill = new BlobFill(sha(bytes), bytes.length, temp(), readableChunks(upstream(body, [16 * 1024, 1, 3], 5)), async () => void (committed = true), 10_000);
      const spans = [
        { start: 0, end: bytes.length - 1, buffer: 512 * 1024 },
        { start: bytes.length - 1, end: bytes.length - 1, buffer: 1 },
        { start: 1000, end: bytes.length - 1, buffer: 4096 },
      ];
      const results = await Promise.allSettled(spans.map((s) => readAll(fill, fill.reader(s)!, s.end, s.buffer)));
      await fill.finished;
      assert.equal(fill.state, 'failed');
      assert.equal(committed, false);
      for (const r of results) assert.equal(r.status, 'rejected', 'a reader ended cleanly on a failed fill');
      assert.equal(fill.followers, 0);
    });
  }

  test('a reader created after the fill failed (while others still hold it) fails at once instead of ending short', async () => {
    const bytes = randomBytes(256 * 1024);
    const body = Buffer.from(bytes);
    body[0] = (body[0] as number) ^ 1;
    const fill = new BlobFill(sha(bytes), bytes.length, temp(), readableChunks(upstream(body, [64 * 1024])), async () => undefined, 10_000);
    const holder = fill.reader({ start: 0, end: 10 })!;
    await fill.finished;
    assert.equal(fill.state, 'failed');
    const late = fill.reader({ start: 0, end: 10 });
    if (late) await assert.rejects(readAll(fill, late, 10, 1024));
    holder.destroy();
  });

  test('a reader waiting on a stalled upstream lets the fill go the moment it is destroyed', async () => {
    const bytes = randomBytes(64 * 1024);
    const stalled = new Readable({ read() {} });
    stalled.push(bytes.subarray(0, 1000));
    const fill = new BlobFill(sha(bytes), bytes.length, temp(), readableChunks(stalled), async () => undefined, 10_000);
    const reader = fill.reader({ start: 2000, end: bytes.length - 1 })!;
    const waiting = reader.readInto(Buffer.alloc(1024), 2000);
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(fill.followers, 1);
    reader.destroy();
    await assert.rejects(waiting);
    assert.equal(fill.followers, 0);
    fill.abort(new Error('test over'));
    await fill.finished;
  });

  test('a size-0 blob: its reader ends once the empty body has verified', async () => {
    const fill = new BlobFill(sha(Buffer.alloc(0)), 0, temp(), readableChunks(Readable.from([])), async () => undefined, 10_000);
    const reader = fill.reader({ start: 0, end: -1 })!;
    const got = await readAll(fill, reader, -1, 16);
    assert.equal(got.bytes.length, 0);
    await fill.finished;
    assert.equal(fill.state, 'done');
  });
});
