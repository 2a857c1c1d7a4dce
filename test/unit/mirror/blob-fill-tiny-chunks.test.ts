// A hostile or broken upstream that sends its body in tiny chunks (a 1-byte TLS record each) while the disk lags:
// the fill holds what it has not written yet, bounded by bytes (src/mirror/fill-writer.ts, maxUnwrittenBytes). Kept
// one buffer per chunk, each byte would cost hundreds of bytes of memory and the bound would be worth gigabytes.
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { open, mkdtemp, rm, type FileHandle } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { test } from 'node:test';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import type { Digest } from '../../../src/registry/digest.js';
import { readableChunks } from '../../../src/upstream/chunk-source.js';
import { BlobFill } from '../../../src/mirror/blob-fill.js';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;
const held = () => {
  gc();
  const m = process.memoryUsage();
  return m.heapUsed + m.external;
};

test('a fill of 1-byte upstream chunks, its disk stalled, holds memory in proportion to the bytes it holds', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'pullgate-tiny-'));
  // Fault injection: every temp-file write waits until the test lets the disk go on.
  const probe = await open(tmpdir(), 'r');
  const proto = Object.getPrototypeOf(probe) as Record<'write' | 'writev', (...a: unknown[]) => Promise<unknown>>;
  await probe.close();
  const { write, writev } = proto;
  let go!: () => void;
  const stalled = new Promise<void>((resolve) => (go = resolve));
  proto.write = async function (this: FileHandle, ...a: unknown[]) {
    await stalled;
    return write.apply(this, a);
  };
  proto.writev = async function (this: FileHandle, ...a: unknown[]) {
    await stalled;
    return writev.apply(this, a);
  };
  const body = new Readable({ read() {} });
  const fill = new BlobFill(`sha256:${'0'.repeat(64)}` as Digest, 64 * 1024 * 1024, join(dir, 't.part'), readableChunks(body), async () => undefined, 60_000);
  try {
    await new Promise((r) => setTimeout(r, 20));
    const before = held();
    // More than one 512 KiB batch buffer: the first one is handed on whole (received counts handed-on bytes).
    for (let i = 0; i < 600_000; i++) {
      body.push(Buffer.alloc(1, i));
      if (i % 10_000 === 0) await new Promise((r) => setImmediate(r));
    }
    // The first batch is handed on once full, however long a busy machine takes: the disk is stalled, not the fill.
    for (let i = 0; i < 500 && fill.received < 512 * 1024; i++) await new Promise((r) => setTimeout(r, 10));
    const perByte = (held() - before) / fill.received;
    assert.ok(fill.received > 400_000, `${fill.received} bytes received`);
    assert.ok(perByte < 32, `${perByte.toFixed(0)} bytes of memory per byte held`);
  } finally {
    proto.write = write;
    proto.writev = writev;
    go();
    fill.abort(new Error('test over'));
    await fill.finished;
    await rm(dir, { recursive: true, force: true });
  }
});

test('followers of an upstream of 1-byte chunks are woken per batch of bytes or time, not per few hundred chunks', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'pullgate-tiny-'));
  const bytes = randomBytes(512 * 1024);
  async function* tiny(): AsyncGenerator<Buffer> {
    for (let i = 0; i < bytes.length; i++) {
      yield bytes.subarray(i, i + 1);
      if (i % 64 === 0) await new Promise((r) => setImmediate(r));
    }
  }
  const digest = `sha256:${createHash('sha256').update(bytes).digest('hex')}` as Digest;
  const fill = new BlobFill(digest, bytes.length, join(dir, 't.part'), readableChunks(Readable.from(tiny())), async () => undefined, 60_000);
  try {
    // Each wake-up of a follower that keeps up is one read and one socket write of what has arrived since.
    const reads = await Promise.all(
      Array.from({ length: 4 }, async () => {
        const reader = fill.reader({ start: 0, end: bytes.length - 1 })!;
        const buffer = Buffer.alloc(512 * 1024);
        const got: Buffer[] = [];
        let count = 0;
        for (let position = 0; ; count++) {
          const n = await reader.readInto(buffer, position);
          if (n === 0) break;
          got.push(Buffer.from(buffer.subarray(0, n)));
          position += n;
        }
        reader.destroy();
        assert.ok(Buffer.concat(got).equals(bytes));
        return count;
      }),
    );
    await fill.finished;
    assert.equal(fill.state, 'done');
    for (const count of reads) assert.ok(count < 500, `${count} reads for ${bytes.length} bytes`);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
