import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import type { Digest } from '../../../src/registry/digest.js';
import { readableChunks } from '../../../src/upstream/chunk-source.js';
import { BlobFill } from '../../../src/mirror/blob-fill.js';

const sha = (b: Buffer) => `sha256:${createHash('sha256').update(b).digest('hex')}` as Digest;

function chunked(bytes: Buffer, size: number): Readable {
  const chunks: Buffer[] = [];
  for (let i = 0; i < bytes.length; i += size) chunks.push(bytes.subarray(i, i + size));
  return Readable.from(chunks);
}

async function collect(stream: Readable): Promise<Buffer> {
  const out: Buffer[] = [];
  for await (const c of stream) out.push(c as Buffer);
  return Buffer.concat(out);
}

describe('a blob fill and its readers', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'pullgate-fill-'));
  });
  after(() => rm(dir, { recursive: true, force: true }));

  test('a reader that falls behind the in-memory window reads the rest from the file, and every byte is right', async () => {
    const bytes = randomBytes(6 * 1024 * 1024 + 123);
    const temp = join(dir, 'a.part');
    await writeFile(temp, '');
    const committed: string[] = [];
    const fill = new BlobFill(sha(bytes), bytes.length, temp, readableChunks(chunked(bytes, 16 * 1024)), async (path) => {
      committed.push(await readFile(path).then((b) => sha(b)));
    }, 10_000);
    const early = fill.reader({ start: 0, end: bytes.length - 1 })!;
    const middle = fill.reader({ start: 3_000_000, end: 3_999_999 })!;
    await fill.finished;
    assert.equal(fill.state, 'done');
    assert.ok((await collect(early)).equals(bytes));
    assert.ok((await collect(middle)).equals(bytes.subarray(3_000_000, 4_000_000)));
    assert.deepEqual(committed, [sha(bytes)]);
  });

  test('readers following a live fill get exact bytes for ranges that start and end inside upstream chunks of any size', async () => {
    const bytes = randomBytes(3 * 1024 * 1024 + 777);
    // Upstream chunks of odd sizes, tiny ones among them, delivered over time so readers follow in memory.
    const sizes = [1, 7, 16 * 1024 + 3, 1000, 64 * 1024, 3, 200_000];
    async function* upstream(): AsyncGenerator<Buffer> {
      for (let at = 0, k = 0; at < bytes.length; k++) {
        const n = sizes[k % sizes.length] as number;
        yield bytes.subarray(at, at + n);
        at += n;
        if (k % 40 === 0) await new Promise((r) => setImmediate(r));
      }
    }
    const temp = join(dir, 'live.part');
    const fill = new BlobFill(sha(bytes), bytes.length, temp, readableChunks(Readable.from(upstream())), async () => undefined, 10_000);
    const spans = [
      { start: 0, end: bytes.length - 1 },
      { start: 5, end: 16 * 1024 + 9 },
      { start: 1_234_567, end: 2_345_678 },
      { start: bytes.length - 10, end: bytes.length - 1 },
    ];
    const reads = spans.map((span) => collect(fill.reader(span)!));
    const got = await Promise.all(reads);
    await fill.finished;
    assert.equal(fill.state, 'done');
    for (const [k, span] of spans.entries()) assert.ok(got[k]?.equals(bytes.subarray(span.start, span.end + 1)), `span ${span.start}-${span.end}`);
    assert.ok((await readFile(temp)).equals(bytes));
  });

  test('a fill whose bytes do not match fails its readers and commits nothing', async () => {
    const bytes = randomBytes(2 * 1024 * 1024);
    const temp = join(dir, 'b.part');
    await writeFile(temp, '');
    let commits = 0;
    const fill = new BlobFill(sha(Buffer.from('other')), bytes.length, temp, readableChunks(chunked(bytes, 64 * 1024)), async () => {
      commits++;
    }, 10_000);
    const reader = fill.reader({ start: 0, end: bytes.length - 1 })!;
    const received: Buffer[] = [];
    reader.on('data', (c: Buffer) => received.push(c));
    await assert.rejects(new Promise((resolve, reject) => reader.on('end', resolve).on('error', reject)));
    assert.ok(Buffer.concat(received).length < bytes.length, 'the last byte was held back');
    assert.equal(commits, 0);
    await assert.rejects(readFile(temp), /ENOENT/);
  });

  test('once the fill is over and no reader holds it, new readers are sent to the store', async () => {
    const bytes = randomBytes(1000);
    const temp = join(dir, 'c.part');
    await writeFile(temp, '');
    const fill = new BlobFill(sha(bytes), bytes.length, temp, readableChunks(chunked(bytes, 100)), async () => undefined, 10_000);
    await fill.finished;
    assert.equal(fill.reader({ start: 0, end: 999 }), undefined);
  });

  test('a fill whose upstream goes quiet for the idle timeout fails, while a steady trickle keeps it alive', async () => {
    const bytes = randomBytes(4000);
    const slowly = (pauseMs: number, stallAfter?: number) =>
      Readable.from(
        (async function* () {
          for (let i = 0; i < 8; i++) {
            if (i === stallAfter) await new Promise((r) => setTimeout(r, 10_000));
            await new Promise((r) => setTimeout(r, pauseMs));
            yield bytes.subarray(i * 500, (i + 1) * 500);
          }
        })(),
      );
    const steady = join(dir, 'd.part');
    await writeFile(steady, '');
    const ok = new BlobFill(sha(bytes), bytes.length, steady, readableChunks(slowly(60)), async () => undefined, 150);
    await ok.finished;
    assert.equal(ok.state, 'done', 'eight pauses of 60 ms (480 ms in all) stay under a 150 ms idle timeout each');

    const stalled = join(dir, 'e.part');
    await writeFile(stalled, '');
    const quiet = new BlobFill(sha(bytes), bytes.length, stalled, readableChunks(slowly(10, 3)), async () => undefined, 150);
    await quiet.finished;
    assert.equal(quiet.state, 'failed');
    assert.match(String(quiet.error?.message), /stalled/);
  });
});
