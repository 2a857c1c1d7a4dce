// A fill's idle timeout measures the upstream only (docs/configuration.md, `cache.fillIdleTimeout`): while the fill
// has stopped reading because its disk is behind, no time counts against the upstream. The disk is slowed by fault
// injection: every write to a temp file waits before it is done.
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, open, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, mock, test } from 'node:test';
import type { Digest } from '../../../src/registry/digest.js';
import { readableChunks } from '../../../src/upstream/chunk-source.js';
import { BlobFill } from '../../../src/mirror/blob-fill.js';
import { maxUnwrittenBytes } from '../../../src/mirror/fill-writer.js';

const sha = (b: Buffer) => `sha256:${createHash('sha256').update(b).digest('hex')}` as Digest;

function chunked(bytes: Buffer, size: number): Readable {
  const chunks: Buffer[] = [];
  for (let i = 0; i < bytes.length; i += size) chunks.push(bytes.subarray(i, i + size));
  return Readable.from(chunks);
}

describe('a blob fill whose disk is slow', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'pullgate-slow-disk-'));
  });
  after(() => rm(dir, { recursive: true, force: true }));

  test('does not count the wait for its disk as an upstream stall: a healthy upstream with a slow disk completes', async () => {
    const idleMs = 150;
    const writeDelayMs = 120;
    // FileHandle's methods live on its prototype: every temp-file write (write and writev) waits first.
    const probe = await open(join(dir, 'probe'), 'w');
    const proto = Object.getPrototypeOf(probe) as { write: (...a: unknown[]) => Promise<unknown>; writev: (...a: unknown[]) => Promise<unknown> };
    await probe.close();
    let slowWrites = 0;
    for (const name of ['write', 'writev'] as const) {
      const original = proto[name];
      mock.method(proto, name, async function (this: unknown, ...args: unknown[]) {
        slowWrites++;
        await sleep(writeDelayMs);
        return original.apply(this, args);
      });
    }
    try {
      // More than the writer lets run ahead of the disk, so the fill stops reading the upstream for a while,
      // longer in all than the idle timeout.
      const bytes = randomBytes(maxUnwrittenBytes + 4 * 1024 * 1024);
      const temp = join(dir, 'slow.part');
      await writeFile(temp, '');
      const committed: string[] = [];
      const startedAt = performance.now();
      const fill = new BlobFill(sha(bytes), bytes.length, temp, readableChunks(chunked(bytes, 64 * 1024)), async (path) => {
        committed.push(sha(await readFile(path)));
      }, idleMs);
      await fill.finished;
      const tookMs = performance.now() - startedAt;
      assert.ok(tookMs > 2 * idleMs, `the disk held the fill for longer than the idle timeout (${Math.round(tookMs)} ms)`);
      assert.ok(slowWrites > 2, 'the writes were slowed');
      assert.equal(fill.error?.message, undefined);
      assert.equal(fill.state, 'done');
      assert.deepEqual(committed, [sha(bytes)]);
    } finally {
      mock.restoreAll();
    }
  });

  test('an upstream that goes quiet while the disk is slow still fails as stalled', async () => {
    const probe = await open(join(dir, 'probe2'), 'w');
    const proto = Object.getPrototypeOf(probe) as { write: (...a: unknown[]) => Promise<unknown> };
    await probe.close();
    const original = proto.write;
    mock.method(proto, 'write', async function (this: unknown, ...args: unknown[]) {
      await sleep(20);
      return original.apply(this, args);
    });
    try {
      const first = randomBytes(256 * 1024);
      // The upstream sends a first part, then nothing: it never ends.
      const body = new Readable({ read() {} });
      body.push(first);
      const temp = join(dir, 'quiet.part');
      await writeFile(temp, '');
      const fill = new BlobFill(sha(Buffer.alloc(1024 * 1024)), 1024 * 1024, temp, readableChunks(body), async () => undefined, 150);
      await fill.finished;
      assert.equal(fill.state, 'failed');
      assert.match(fill.error?.message ?? '', /stalled/);
    } finally {
      mock.restoreAll();
    }
  });
});
