// The one-stream source's fault handling (src/mirror/resuming-chunks.ts) with in-memory bodies whose chunks are
// transient (one reused buffer, poisoned after each call): faults the real CDN cannot produce on cue (a connection
// that stalls without closing, one that never recovers, a wrong Content-Range). Resumes over real software are tested
// in test/e2e/segmented-fills.test.ts and test/integration/fill-resume.test.ts.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { describe, test } from 'node:test';
import { RegistryError } from '../../../src/registry/errors.js';
import { ResumingChunks } from '../../../src/mirror/resuming-chunks.js';
import type { RangeAnswer, RangeFetcher, ResumePlan } from '../../../src/mirror/segment-plan.js';
import { transientBody, type TransientFaults } from '../../support/fake/transient-body.js';

const KiB = 1024;

function plan(size: number, extra: Partial<ResumePlan> = {}): ResumePlan {
  return { size, resumes: 3, stallTimeoutMs: 200, minDelayMs: 5, maxDelayMs: 20, ...extra };
}

function partial(blob: Buffer, start: number, end: number, faults: TransientFaults = {}): RangeAnswer {
  return { status: 206, headers: { 'content-range': `bytes ${start}-${end}/${blob.length}` }, body: transientBody(blob.subarray(start, end + 1), faults) };
}

/** Every byte delivered (copied: the chunks are transient), and how the source ended. */
function collect(source: ResumingChunks): Promise<{ bytes: Buffer; err: Error | undefined }> {
  const parts: Buffer[] = [];
  return new Promise((resolve) => {
    let ends = 0;
    source.deliver(
      (chunk) => parts.push(Buffer.from(chunk)),
      (err) => {
        ends++;
        assert.equal(ends, 1, 'onEnd is called once');
        resolve({ bytes: Buffer.concat(parts), err });
      },
    );
  });
}

/** Records the ranges asked for and answers each with `answer`. */
function fetcher(answer: (start: number, end: number, signal: AbortSignal) => RangeAnswer | Promise<RangeAnswer>): RangeFetcher & { asked: Array<[number, number]> } {
  const asked: Array<[number, number]> = [];
  return Object.assign(async (start: number, end: number, signal: AbortSignal) => {
    asked.push([start, end]);
    return answer(start, end, signal);
  }, { asked });
}

describe('the one-stream resuming source', () => {
  test('a connection that breaks mid-blob is resumed at its first missing byte, every byte exact', async () => {
    const blob = randomBytes(300 * KiB + 7);
    const fetch = fetcher((start, end) => partial(blob, start, end));
    const source = new ResumingChunks(transientBody(blob, { breakAt: 100 * KiB + 5 }), plan(blob.length), fetch);
    let told = 0;
    source.onResume = () => told++;
    const { bytes, err } = await collect(source);
    assert.equal(err, undefined);
    assert.ok(bytes.equals(blob));
    assert.deepEqual(fetch.asked, [[100 * KiB + 5, blob.length - 1]]);
    assert.equal(source.resumes, 1);
    assert.equal(told, 1);
  });

  test('a connection that goes silent is dropped after the stall timeout and resumed', async () => {
    const blob = randomBytes(200 * KiB);
    const head = transientBody(blob, { stallAt: 64 * KiB });
    const fetch = fetcher((start, end) => partial(blob, start, end));
    const started = Date.now();
    const { bytes, err } = await collect(new ResumingChunks(head, plan(blob.length, { stallTimeoutMs: 100 }), fetch));
    assert.equal(err, undefined);
    assert.ok(bytes.equals(blob));
    assert.deepEqual(fetch.asked, [[64 * KiB, blob.length - 1]]);
    assert.ok(head.source.destroyed instanceof RegistryError && head.source.destroyed.code === 'UPSTREAM_TIMEOUT');
    assert.ok(Date.now() - started >= 90);
  });

  test('a source paused by its reader longer than the stall timeout is not resumed', async () => {
    const blob = randomBytes(100 * KiB);
    const fetch = fetcher((start, end) => partial(blob, start, end));
    const source = new ResumingChunks(transientBody(blob), plan(blob.length, { stallTimeoutMs: 50 }), fetch);
    const done = collect(source);
    source.pause();
    await new Promise((r) => setTimeout(r, 150));
    source.resume();
    const { bytes, err } = await done;
    assert.equal(err, undefined);
    assert.ok(bytes.equals(blob));
    assert.equal(fetch.asked.length, 0);
  });

  test('an upstream that ignores Range answers 200: the whole blob is read again and what the fill has is skipped', async () => {
    const blob = randomBytes(150 * KiB + 1);
    const fetch = fetcher(() => ({ status: 200, headers: {}, body: transientBody(blob, { chunkBytes: 10 * KiB }) }));
    const { bytes, err } = await collect(new ResumingChunks(transientBody(blob, { breakAt: 33 * KiB + 3 }), plan(blob.length), fetch));
    assert.equal(err, undefined);
    assert.ok(bytes.equals(blob));
    assert.equal(fetch.asked.length, 1);
  });

  test('a 206 for other bytes than asked ends the source at once, without another try', async () => {
    const blob = randomBytes(100 * KiB);
    const fetch = fetcher((start, end) => partial(blob, start + 1, end));
    const { err } = await collect(new ResumingChunks(transientBody(blob, { breakAt: 10 * KiB }), plan(blob.length), fetch));
    assert.ok(err instanceof RegistryError && err.code === 'UPSTREAM_INVALID', String(err));
    assert.equal(fetch.asked.length, 1);
  });

  test('an upstream that keeps breaking at the same byte fails after the bounded tries without progress; progress resets the count', async () => {
    const blob = randomBytes(100 * KiB);
    // Each resumed connection brings 8 KiB, then breaks, up to 40 KiB; from there on it breaks at once.
    const fetch = fetcher((start, end) => partial(blob, start, end, { chunkBytes: 4 * KiB, breakAt: start < 40 * KiB ? 8 * KiB : 0 }));
    const source = new ResumingChunks(transientBody(blob, { breakAt: 8 * KiB }), plan(blob.length, { resumes: 2 }), fetch);
    const { bytes, err } = await collect(source);
    assert.ok(err instanceof RegistryError && err.code === 'UNAVAILABLE', String(err));
    assert.ok(bytes.equals(blob.subarray(0, 40 * KiB)));
    const stuck = fetch.asked.filter(([start]) => start === 40 * KiB).length;
    assert.equal(stuck, 2, 'the budget of tries without progress, after the one that brought bytes');
    assert.deepEqual(fetch.asked.map(([start]) => start), [8, 16, 24, 32, 40, 40].map((k) => k * KiB));
  });

  test('a Range request that fails (no answer) counts as a try without progress', async () => {
    const blob = randomBytes(50 * KiB);
    let calls = 0;
    const fetch = fetcher((start, end) => {
      if (++calls === 1) throw new RegistryError('UNAVAILABLE', 'connection refused');
      return partial(blob, start, end);
    });
    const { bytes, err } = await collect(new ResumingChunks(transientBody(blob, { breakAt: 20 * KiB }), plan(blob.length), fetch));
    assert.equal(err, undefined);
    assert.ok(bytes.equals(blob));
    assert.equal(fetch.asked.length, 2);
  });

  test('destroying the source aborts the Range request in flight and ends it with that error', async () => {
    const blob = randomBytes(50 * KiB);
    const signals: AbortSignal[] = [];
    const fetch = fetcher((start, end, signal) => {
      signals.push(signal);
      return new Promise<RangeAnswer>((resolve) => setTimeout(() => resolve(partial(blob, start, end)), 100));
    });
    const source = new ResumingChunks(transientBody(blob, { breakAt: 10 * KiB }), plan(blob.length), fetch);
    const done = collect(source);
    while (signals.length === 0) await new Promise((r) => setTimeout(r, 5));
    source.destroy(new Error('shutting down'));
    const { err } = await done;
    assert.equal(err?.message, 'shutting down');
    assert.ok(signals.every((s) => s.aborted));
  });

  test('a body longer than the blob ends the source with an error', async () => {
    const blob = randomBytes(20 * KiB);
    const longer = Buffer.concat([blob, Buffer.from('x')]);
    const { err } = await collect(new ResumingChunks(transientBody(longer), plan(blob.length), fetcher(() => assert.fail('no resume'))));
    assert.ok(err instanceof RegistryError && err.code === 'UPSTREAM_INVALID', String(err));
  });

  test('a plain Readable head (no transient chunks) is read through its data events', async () => {
    const blob = randomBytes(64 * KiB + 1);
    const { bytes, err } = await collect(new ResumingChunks(Readable.from([blob.subarray(0, 1000), blob.subarray(1000)]), plan(blob.length), fetcher(() => assert.fail('no resume'))));
    assert.equal(err, undefined);
    assert.ok(bytes.equals(blob));
  });
});
