// A segmented fill's readers while the disk lags (docs/segmented-fills.md, "What happens"): the fill's temp file is
// extended by segments written ahead of the prefix, so past the prefix the fill has written there it holds holes
// and bytes not yet handed on. A reader that has fallen behind the fill's in-memory window reads the file; it must
// read only what the fill has written, never a hole ahead of it. The disk is slowed down by holding writes back
// (fault injection: FileHandle writes wait on a gate); everything else is the real fill, source and file.
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, open, rm, writeFile, type FileHandle } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import type { Digest } from '../../../src/registry/digest.js';
import { readableChunks } from '../../../src/upstream/chunk-source.js';
import { BlobFill } from '../../../src/mirror/blob-fill.js';
import { SegmentedSource } from '../../../src/mirror/segmented-source.js';

const KiB = 1024;
const MiB = 1024 * KiB;
const sha = (b: Buffer) => `sha256:${createHash('sha256').update(b).digest('hex')}` as Digest;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until(check: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 500 && !check(); i++) await sleep(10);
  assert.ok(check(), what);
}

/** Holds back FileHandle writes at or past `from` below `to` until released: a disk that lags behind the upstream. */
async function slowDisk(): Promise<{ hold(from: number, to: number): void; release(): void; restore(): Promise<void> }> {
  const probe = await open(tmpdir(), 'r');
  const proto = Object.getPrototypeOf(probe) as FileHandle;
  await probe.close();
  const { write, writev } = proto;
  let held: { from: number; to: number } | undefined;
  let released = Promise.resolve();
  let open_ = () => undefined as void;
  // The fill writes a batch of several chunks with one vectored write: both kinds wait.
  const gated = (original: unknown, positionArg: number) =>
    async function (this: FileHandle, ...args: unknown[]) {
      const position = args[positionArg] as number;
      if (held && position >= held.from && position < held.to) await released;
      return (original as (...a: unknown[]) => Promise<unknown>).apply(this, args);
    };
  (proto as unknown as { write: unknown }).write = gated(write, 3);
  (proto as unknown as { writev: unknown }).writev = gated(writev, 1);
  return {
    hold(from, to) {
      held = { from, to };
      released = new Promise<void>((resolve) => (open_ = resolve));
    },
    release() {
      held = undefined;
      open_();
    },
    async restore() {
      (proto as unknown as { write: unknown }).write = write;
      (proto as unknown as { writev: unknown }).writev = writev;
      open_();
    },
  };
}

describe('a segmented fill\'s readers while the disk lags', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'pullgate-segfill-'));
  });
  after(() => rm(dir, { recursive: true, force: true }));

  test('a reader behind the in-memory window reads only bytes the fill has written, never the holes ahead of them', async () => {
    const disk = await slowDisk();
    try {
      const blob = randomBytes(2 * MiB);
      // The fill's own GET sends the first segment in 64 KiB chunks, each when the test says; the second segment
      // arrives at once over its Range request and is written ahead of the prefix, at its offset.
      const chunks: Buffer[] = [];
      for (let i = 0; i < MiB; i += 64 * KiB) chunks.push(blob.subarray(i, i + 64 * KiB));
      let sendNext!: () => void;
      let sent = 0;
      const head = new Readable({
        read() {
          if (sent === chunks.length) return void this.push(null);
          const go = () => this.push(chunks[sent++]);
          if (sent === 0) go();
          else sendNext = go;
        },
      });
      const plan = { size: blob.length, segmentBytes: MiB, connections: 2, resumes: 1, stallTimeoutMs: 10_000, minDelayMs: 1, maxDelayMs: 5 };
      let fileOpen!: () => void;
      const opened = new Promise<void>((resolve) => (fileOpen = resolve));
      // The Range answer comes once the fill has opened its temp file, as it does over any real network.
      const source = new SegmentedSource(head, plan, async (start, end) => (await opened, {
        status: 206,
        headers: { 'content-range': `bytes ${start}-${end}/${blob.length}` },
        body: Readable.from([blob.subarray(start, end + 1)]),
      }), { tryAcquire: () => true, release: () => undefined });
      const temp = join(dir, 'a.part');
      await writeFile(temp, '');
      // The disk holds back the fill's writes of the first segment past its first chunk.
      disk.hold(64 * KiB, MiB);
      const fill = new BlobFill(sha(blob), blob.length, temp, readableChunks(source), async () => undefined, 10_000);
      source.useFile(fill.file);
      void fill.file.then(() => setTimeout(fileOpen, 10));
      await until(() => source.view()[1]?.state === 'done', 'the second segment is in the temp file, ahead of the prefix');
      // Six more batches, each on its own (the fill writes a batch at least every 50 ms), all held by the disk.
      for (let i = 0; i < 6; i++) {
        sendNext();
        await sleep(80);
      }
      assert.equal(fill.received, 7 * 64 * KiB);
      // The disk lets the first batch's write complete: the fill's window now starts past it.
      disk.release();
      disk.hold(2 * 64 * KiB, MiB);
      await until(() => fill.copyRecent(Buffer.alloc(1), 0, 1) === 0, 'the first batch has left the in-memory window');
      const reader = fill.reader({ start: 0, end: blob.length - 1 })!;
      const parts: Buffer[] = [];
      const read = (async () => {
        for await (const c of reader) parts.push(c as Buffer);
      })();
      await sleep(100);
      disk.release();
      while (sent < chunks.length) {
        sendNext();
        await sleep(1);
      }
      await fill.finished;
      await read;
      assert.equal(fill.state, 'done', String(fill.error));
      const got = Buffer.concat(parts);
      assert.equal(got.length, blob.length);
      assert.ok(got.equals(blob), 'every byte the reader got is the blob\'s');
    } finally {
      await disk.restore();
    }
  });
});
