// A fill takes the upstream's Content-Length as a claim on the cache's room (cache.maxSize), checked before any
// byte is written: a blob that cannot fit, or a Content-Length that lies far beyond it, is passed through to the
// client (verified, never written to disk), and fills in flight together never claim more than the cache may use.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, beforeEach, describe, test } from 'node:test';
import { request } from 'undici';
import { parseDigest } from '../../src/registry/digest.js';
import { FakeUpstream, sha256 } from '../support/fake/fake-upstream.js';
import { startMirror, type TestMirror } from '../support/mirror-app.js';

const KiB = 1024;

async function transfer(url: string): Promise<{ status: number; body: Buffer; error?: unknown }> {
  const res = await request(url);
  const chunks: Buffer[] = [];
  try {
    for await (const c of res.body) chunks.push(c as Buffer);
    return { status: res.statusCode, body: Buffer.concat(chunks) };
  } catch (error) {
    return { status: res.statusCode, body: Buffer.concat(chunks), error };
  }
}

describe('fills within the room the cache may use', () => {
  let up: FakeUpstream;
  let mirror: TestMirror;
  const url = (bytes: Buffer) => `${mirror.url}/v2/library/data/blobs/${sha256(bytes)}`;
  /** The cache mark of each finished request for the blob, in order (the access line follows the response's end). */
  async function marks(bytes: Buffer, count: number): Promise<Array<string | undefined>> {
    const read = () => mirror.logs.filter((l) => l.includes(`"reference":"${sha256(bytes)}"`)).map((l) => (JSON.parse(l) as { cache?: string }).cache);
    for (let i = 0; i < 300 && read().length < count; i++) await new Promise((r) => setTimeout(r, 10));
    return read();
  }
  const stored = async (bytes: Buffer) => (await mirror.app.cache.store.stat(parseDigest(sha256(bytes)))) !== undefined;

  before(async () => {
    up = await new FakeUpstream().start();
    mirror = await startMirror({ cache: { maxSize: '1MiB' }, upstreams: [{ name: 'hub', registry: 'docker.io', url: up.url, default: true }] });
  });
  after(async () => {
    await mirror?.close();
    await up?.stop();
  });
  beforeEach(() => up.reset());

  test('a blob larger than the whole cache passes through, exact and verified, and nothing is written', async () => {
    const blob = randomBytes(3 * 1024 * KiB);
    up.addBlob(blob);
    const r = await transfer(url(blob));
    assert.equal(r.error, undefined);
    assert.equal(r.status, 200);
    assert.ok(r.body.equals(blob));
    assert.deepEqual(await marks(blob, 1), ['PASS']);
    assert.equal(await stored(blob), false);
    assert.deepEqual(await readdir(join(mirror.dataDir, 'tmp')), [], 'no temp file');
  });

  test('a Content-Length far beyond the cache is not believed: no fill, no temp file, the client never gets a clean short end', async () => {
    const blob = randomBytes(64 * KiB);
    up.addBlob(blob);
    up.faults.contentLengthDelta = 2 ** 40; // "this blob is a terabyte"
    try {
      const r = await transfer(url(blob));
      assert.ok(r.error !== undefined || r.status >= 400, 'the short body is not delivered as a complete blob');
    } finally {
      up.faults.contentLengthDelta = undefined;
    }
    assert.deepEqual(await marks(blob, 1), ['PASS']);
    assert.equal(await stored(blob), false);
    assert.deepEqual(await readdir(join(mirror.dataDir, 'tmp')), []);
  });

  test('fills in flight together claim at most the cache: a second one that would exceed it passes through', async () => {
    const first = randomBytes(700 * KiB);
    const second = randomBytes(700 * KiB);
    up.addBlob(first);
    up.addBlob(second);
    up.faults.blobChunkDelayMs = 40; // the first fill is still running when the second is asked for
    try {
      const a = transfer(url(first));
      for (let i = 0; i < 300 && mirror.app.services.fills.size === 0; i++) await new Promise((r) => setTimeout(r, 5));
      const b = transfer(url(second));
      const [ra, rb] = await Promise.all([a, b]);
      assert.ok(ra.body.equals(first));
      assert.ok(rb.body.equals(second));
    } finally {
      up.faults.blobChunkDelayMs = 0;
    }
    assert.deepEqual(await marks(first, 1), ['MISS']);
    assert.deepEqual(await marks(second, 1), ['PASS']);
  });

  test('a fill resumed after its first connection broke keeps its claim until it is over', async () => {
    const first = randomBytes(700 * KiB);
    const second = randomBytes(700 * KiB);
    up.addBlob(first);
    up.addBlob(second);
    // The first connection is reset at 64 KiB; the fill resumes with a Range request that goes on slowly.
    Object.assign(up.faults, { resetBlobAt: 64 * KiB, resetBlobTimes: 1, blobChunkDelayMs: 60 });
    const firstGets = () => up.count((r) => r.method === 'GET' && r.path.endsWith(sha256(first)));
    try {
      const a = transfer(url(first));
      for (let i = 0; i < 300 && firstGets() < 2; i++) await new Promise((r) => setTimeout(r, 5));
      assert.equal(firstGets(), 2, 'the fill resumed');
      assert.equal(mirror.app.services.fills.size, 1, 'the resumed fill is still running');
      const b = transfer(url(second));
      const [ra, rb] = await Promise.all([a, b]);
      assert.ok(ra.body.equals(first));
      assert.ok(rb.body.equals(second));
    } finally {
      Object.assign(up.faults, { resetBlobAt: undefined, resetBlobTimes: undefined, blobChunkDelayMs: 0 });
    }
    assert.deepEqual(await marks(first, 1), ['MISS']);
    assert.deepEqual(await marks(second, 1), ['PASS'], 'the first fill still claims its 700 KiB of the 1 MiB');
  });
});
