// A fill's temp file is made beside its upstream request (src/mirror/fills.ts): the client's headers wait for the
// upstream's answer only, and a fill the upstream refuses leaves no temp file behind.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { access, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import { Fills, type FillSource } from '../../../src/mirror/fills.js';
import { readableChunks } from '../../../src/upstream/chunk-source.js';
import type { Digest } from '../../../src/registry/digest.js';

describe('a fill\'s temp file', () => {
  let dir: string;
  let made: string[];
  let fills: Fills;
  const bytes = Buffer.from('the blob');
  const digest = `sha256:${createHash('sha256').update(bytes).digest('hex')}` as Digest;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'pullgate-fill-temp-'));
  });
  after(() => rm(dir, { recursive: true, force: true }));

  let temps: string;
  const setUp = async (): Promise<void> => {
    made = [];
    temps = await mkdtemp(join(dir, 'tmp-'));
    fills = new Fills(async () => {
      const path = join(temps, `${made.length}.part`);
      await writeFile(path, '');
      made.push(path);
      return path;
    }, 60_000);
  };

  test('is made while the upstream request is still waiting for its answer', async () => {
    await setUp();
    let answer: (source: FillSource) => void = () => undefined;
    const entry = fills.start(digest, () => new Promise<FillSource>((resolve) => (answer = resolve)));
    // The upstream has not answered yet: the temp file exists already.
    for (let i = 0; i < 100 && made.length === 0; i++) await new Promise((r) => setTimeout(r, 5));
    assert.equal(made.length, 1);
    let stored: string | undefined;
    answer({ size: bytes.length, body: readableChunks(Readable.from([bytes])), commit: async (path) => void (stored = path) });
    const fill = await entry.fill;
    await fill.finished;
    assert.equal(fill.state, 'done');
    assert.equal(stored, made[0], 'the fill wrote the temp file made beside the request');
  });

  test('is removed when the upstream refuses the fill, before the refusal reaches the waiters', async () => {
    await setUp();
    const refusal = new Error('404 from upstream');
    const entry = fills.start(digest, async () => {
      // Refused once the temp file exists (the slower case for its removal).
      for (let i = 0; i < 100 && made.length === 0; i++) await new Promise((r) => setTimeout(r, 5));
      throw refusal;
    });
    await assert.rejects(entry.fill, (err) => err === refusal);
    assert.equal(made.length, 1);
    await assert.rejects(access(made[0] as string), { code: 'ENOENT' });
    assert.deepEqual(await readdir(temps), []);
    assert.equal(fills.get(digest), undefined);
  });

  test('still being made when the upstream refuses (a slow disk): the refusal is answered at once, the file removed once made', async () => {
    made = [];
    temps = await mkdtemp(join(dir, 'tmp-'));
    const slow = new Fills(async () => {
      await new Promise((r) => setTimeout(r, 300));
      const path = join(temps, `${made.length}.part`);
      await writeFile(path, '');
      made.push(path);
      return path;
    }, 60_000);
    const refusal = new Error('401 from upstream');
    const started = performance.now();
    await assert.rejects(slow.start(digest, async () => Promise.reject(refusal)).fill, (err) => err === refusal);
    const waited = performance.now() - started;
    assert.ok(waited < 200, `the refusal waited ${Math.round(waited)} ms for the temp file`);
    for (let i = 0; i < 100 && (made.length === 0 || (await readdir(temps)).length > 0); i++) await new Promise((r) => setTimeout(r, 10));
    assert.equal(made.length, 1);
    assert.deepEqual(await readdir(temps), []);
  });

  test('a temp file that cannot be made (disk full) while the upstream refuses: the refusal is answered, nothing else', async () => {
    const unhandled: unknown[] = [];
    const onUnhandled = (err: unknown): void => void unhandled.push(err);
    process.on('unhandledRejection', onUnhandled);
    try {
      const full = new Fills(async () => Promise.reject(Object.assign(new Error('no space'), { code: 'ENOSPC' })), 60_000);
      const refusal = new Error('404 from upstream');
      await assert.rejects(full.start(digest, async () => {
        await new Promise((r) => setTimeout(r, 20));
        throw refusal;
      }).fill, (err) => err === refusal);
      await new Promise((r) => setTimeout(r, 20));
      assert.deepEqual(unhandled, []);
    } finally {
      process.off('unhandledRejection', onUnhandled);
    }
  });

  test('a temp file that cannot be made while the upstream answers: the answer\'s body is closed and the error answered', async () => {
    const full = new Fills(async () => Promise.reject(Object.assign(new Error('no space'), { code: 'ENOSPC' })), 60_000);
    const body = Readable.from([bytes]);
    let settled = false;
    const entry = full.start(digest, async () => ({ size: bytes.length, body: readableChunks(body), commit: async () => undefined, settled: () => void (settled = true) }));
    await assert.rejects(entry.fill, { code: 'ENOSPC' });
    assert.equal(body.destroyed, true);
    assert.equal(settled, true);
    assert.equal(full.get(digest), undefined);
  });
});
