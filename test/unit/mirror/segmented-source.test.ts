// The segmented source's fault handling with an in-memory upstream (faults the real CDN cannot produce on cue: a
// connection that stalls without closing, one that never recovers, a wrong Content-Range, no connection budget).
// Byte-exact reassembly over real software is tested in test/e2e/segmented-fills.test.ts.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtemp, open, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { describe, test } from 'node:test';
import { RegistryError } from '../../../src/registry/errors.js';
import { SegmentedSource, type ConnectionSlots, type RangeAnswer, type SegmentPlan } from '../../../src/mirror/segmented-source.js';

const KiB = 1024;

function plan(size: number, extra: Partial<SegmentPlan> = {}): SegmentPlan {
  return { size, segmentBytes: 64 * KiB, connections: 4, resumes: 3, stallTimeoutMs: 200, minDelayMs: 5, maxDelayMs: 20, ...extra };
}

function slots(max: number): ConnectionSlots & { used: number } {
  return {
    used: 0,
    tryAcquire() {
      if (this.used >= max) return false;
      this.used++;
      return true;
    },
    release() {
      this.used--;
    },
  };
}

/** A body that sends `data` in 8 KiB chunks, then ends; `stallAfter` bytes in, it goes silent without ending. */
function body(data: Buffer, stallAfter?: number): Readable {
  const chunks: Buffer[] = [];
  const upTo = stallAfter ?? data.length;
  for (let i = 0; i < upTo; i += 8 * KiB) chunks.push(data.subarray(i, Math.min(upTo, i + 8 * KiB)));
  let i = 0;
  return new Readable({
    read() {
      if (i < chunks.length) this.push(chunks[i++]);
      else if (stallAfter === undefined) this.push(null);
    },
  });
}

function answer(blob: Buffer, start: number, end: number, stallAfter?: number): RangeAnswer {
  return {
    status: 206,
    headers: { 'content-range': `bytes ${start}-${end}/${blob.length}` },
    body: body(blob.subarray(start, end + 1), stallAfter),
  };
}

async function drain(source: Readable): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const chunk of source) parts.push(chunk as Buffer);
  return Buffer.concat(parts);
}

describe('the segmented source', () => {
  test('a segment connection that stalls is dropped and resumed at its first missing byte', async () => {
    const blob = randomBytes(5 * 64 * KiB + 3);
    const asked: Array<[number, number]> = [];
    let stalled = false;
    const source = new SegmentedSource(body(blob), plan(blob.length), async (start, end) => {
      asked.push([start, end]);
      // The first request for the third segment sends 10 000 bytes and then nothing, without closing.
      if (start === 2 * 64 * KiB && !stalled) {
        stalled = true;
        return answer(blob, start, end, 10_000);
      }
      return answer(blob, start, end);
    }, slots(8));
    assert.ok((await drain(source)).equals(blob));
    assert.equal(source.resumes, 1);
    assert.ok(
      asked.some(([start, end]) => start === 2 * 64 * KiB + 10_000 && end === 3 * 64 * KiB - 1),
      `resumed after the bytes it had: ${JSON.stringify(asked)}`,
    );
  });

  test('a segment that keeps failing without progress fails the stream after the bounded tries', async () => {
    const blob = randomBytes(4 * 64 * KiB);
    let tries = 0;
    const source = new SegmentedSource(body(blob), plan(blob.length, { resumes: 2 }), async (start, end) => {
      if (start === 64 * KiB) {
        tries++;
        throw new Error('connection refused');
      }
      return answer(blob, start, end);
    }, slots(8));
    await assert.rejects(drain(source), (err: unknown) => err instanceof RegistryError && err.code === 'UNAVAILABLE');
    assert.equal(tries, 3, 'the first try and two resumes');
  });

  test('a Content-Range other than the one asked for fails at once', async () => {
    const blob = randomBytes(4 * 64 * KiB);
    const source = new SegmentedSource(body(blob), plan(blob.length), async (start, end) => answer(blob, start + 1, end), slots(8));
    await assert.rejects(drain(source), (err: unknown) => err instanceof RegistryError && err.code === 'UPSTREAM_INVALID');
  });

  test('without a connection to spare the fill\'s own GET carries the whole blob', async () => {
    const blob = randomBytes(4 * 64 * KiB + 1);
    let asked = 0;
    const none = slots(0);
    const source = new SegmentedSource(body(blob), plan(blob.length), async (start, end) => {
      asked++;
      return answer(blob, start, end);
    }, none);
    assert.ok((await drain(source)).equals(blob));
    assert.equal(asked, 0);
    assert.equal(source.segmentCount, 1);
  });

  test('connections come from the upstream\'s budget and go back to it', async () => {
    const blob = randomBytes(8 * 64 * KiB);
    const budget = slots(2);
    let most = 0;
    const source = new SegmentedSource(body(blob), plan(blob.length), async (start, end) => {
      most = Math.max(most, budget.used);
      return answer(blob, start, end);
    }, budget);
    assert.ok((await drain(source)).equals(blob));
    assert.equal(most, 2, 'two connections beside the fill\'s own GET (four asked for)');
    await new Promise((r) => setImmediate(r));
    assert.equal(budget.used, 0);
  });

  test('stopping the source aborts the Range requests in flight', async () => {
    const blob = randomBytes(4 * 64 * KiB);
    const signals: AbortSignal[] = [];
    const source = new SegmentedSource(body(blob, 1000), plan(blob.length, { stallTimeoutMs: 60_000 }), async (start, end, signal) => {
      signals.push(signal);
      return answer(blob, start, end, 1000);
    }, slots(8));
    await new Promise((r) => setTimeout(r, 50));
    const failed = new Promise<Error>((resolve) => source.once('error', resolve));
    source.destroy(new Error('shutting down'));
    assert.equal((await failed).message, 'shutting down');
    await new Promise((r) => setImmediate(r));
    assert.ok(signals.length > 0);
    assert.ok(signals.every((s) => s.aborted));
  });

  test('segments ahead of the prefix are written at their offsets in the fill\'s temp file, then handed on in order', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'pullgate-segments-'));
    const handle = await open(join(dir, 'fill'), 'w+');
    try {
      const blob = randomBytes(5 * 64 * KiB + 1);
      // The fill's own GET sends its first 8 KiB, then nothing until released: every other segment arrives first.
      let release!: () => void;
      const released = new Promise<void>((resolve) => (release = resolve));
      let i = 0;
      const head = new Readable({
        read() {
          void (i === 0 ? Promise.resolve() : released).then(() => {
            if (i < blob.length) this.push(blob.subarray(i, (i += 8 * KiB)));
            else this.push(null);
          });
        },
      });
      const source = new SegmentedSource(head, plan(blob.length, { stallTimeoutMs: 10_000 }), async (start, end) => answer(blob, start, end), slots(8));
      source.useFile(Promise.resolve(handle));
      const parts: Buffer[] = [];
      const drained = (async () => {
        for await (const chunk of source) parts.push(chunk as Buffer);
      })();
      for (let n = 0; n < 200 && source.view().filter((v) => v.state === 'done').length < 5; n++) await new Promise((r) => setTimeout(r, 5));
      assert.deepEqual(source.view().map((v) => v.state), ['fetching', 'done', 'done', 'done', 'done', 'done']);
      assert.equal(Buffer.concat(parts).length, 8 * KiB, 'only the first bytes of the prefix handed on');
      const ahead = Buffer.alloc(blob.length - 64 * KiB);
      await handle.read(ahead, 0, ahead.length, 64 * KiB);
      assert.ok(ahead.equals(blob.subarray(64 * KiB)), 'the later segments are in the temp file at their offsets');
      release();
      await drained;
      assert.ok(Buffer.concat(parts).equals(blob));
    } finally {
      await handle.close();
      await rm(dir, { recursive: true, force: true });
    }
  });
});
