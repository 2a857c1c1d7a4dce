// Graceful shutdown (docs/operating.md, "Signals"): SIGTERM to the real process stops new connections, lets a blob
// transfer in progress finish with every byte, closes the database and exits 0; a transfer longer than shutdownGrace is
// cut (never ended cleanly short) and the process still exits.
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { access, mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import Database from 'better-sqlite3';
import { request } from 'undici';
import { FakeUpstream, sha256 } from '../support/fake/fake-upstream.js';
import { spawnMirror } from '../support/mirror-process.js';

const MiB = 1024 * 1024;

/** Starts a GET and resolves once its first body bytes arrived, with the rest of the transfer as a promise. */
async function startTransfer(url: string): Promise<{ rest: Promise<{ body: Buffer; error?: unknown }> }> {
  const res = await request(url);
  assert.equal(res.statusCode, 200);
  const chunks: Buffer[] = [];
  const iterator = res.body[Symbol.asyncIterator]();
  const first = await iterator.next();
  if (!first.done) chunks.push(first.value as Buffer);
  const rest = (async () => {
    try {
      for (let r = await iterator.next(); !r.done; r = await iterator.next()) chunks.push(r.value as Buffer);
      return { body: Buffer.concat(chunks) };
    } catch (error) {
      return { body: Buffer.concat(chunks), error };
    }
  })();
  return { rest };
}

describe('SIGTERM', () => {
  let up: FakeUpstream;
  let dir: string;
  before(async () => {
    up = await new FakeUpstream().start();
    dir = await mkdtemp(join(tmpdir(), 'pullgate-shutdown-'));
  });
  after(async () => {
    await up?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  test('during a slow blob transfer lets it finish with the right digest, refuses new connections and exits 0', { timeout: 60_000 }, async () => {
    const blob = randomBytes(2 * MiB);
    up.addBlob(blob);
    up.faults = { blobChunkDelayMs: 40 }; // 32 chunks of 64 KiB: about 1.3 s
    const work = join(dir, 'finish');
    await mkdir(work);
    const mirror = await spawnMirror(work, { upstreams: [{ name: 'hub', registry: 'docker.io', url: up.url, default: true }] });
    try {
      const transfer = await startTransfer(`${mirror.url}/v2/library/data/blobs/${sha256(blob)}`);
      const exited = mirror.stop('SIGTERM');
      // The listener closes at once: a new connection is refused while the transfer goes on.
      await new Promise((r) => setTimeout(r, 200));
      await assert.rejects(request(`${mirror.url}/healthz`), /ECONNREFUSED/);
      const { body, error } = await transfer.rest;
      assert.equal(error, undefined, 'the transfer ended cleanly');
      assert.equal(body.length, blob.length);
      assert.equal(`sha256:${createHash('sha256').update(body).digest('hex')}`, sha256(blob));
      assert.equal(await exited, 0);
      assert.ok(mirror.logs.some((l) => l.includes('"msg":"stopped"')));
      // SQLite removes the write-ahead log when its last connection closes cleanly (after a checkpoint).
      await assert.rejects(access(join(work, 'data', 'pullgate.db-wal')), /ENOENT/, 'the database was closed cleanly');
      // The fill committed before the database closed: its row is there for the next start.
      const db = new Database(join(work, 'data', 'pullgate.db'), { readonly: true });
      try {
        assert.deepEqual(db.prepare('SELECT size FROM blobs WHERE digest = ?').get(sha256(blob)), { size: blob.length });
      } finally {
        db.close();
      }
    } finally {
      up.faults = {};
      await mirror.stop('SIGKILL');
    }
  });

  test('cuts a transfer that outlasts shutdownGrace (the client sees an abort, not a short clean end) and exits 0', { timeout: 60_000 }, async () => {
    const blob = randomBytes(4 * MiB);
    up.addBlob(blob);
    up.faults = { blobChunkDelayMs: 50 }; // about 3.2 s, over the 500 ms grace
    await mkdir(join(dir, 'cut'));
    const mirror = await spawnMirror(join(dir, 'cut'), { shutdownGrace: '500ms', upstreams: [{ name: 'hub', registry: 'docker.io', url: up.url, default: true }] });
    try {
      const transfer = await startTransfer(`${mirror.url}/v2/library/data/blobs/${sha256(blob)}`);
      const started = Date.now();
      const code = await mirror.stop('SIGTERM');
      const { body, error } = await transfer.rest;
      assert.equal(code, 0);
      assert.ok(Date.now() - started < 3_000, 'the process did not wait for the whole transfer');
      assert.notEqual(error, undefined, 'the cut transfer failed on the client');
      assert.ok(body.length < blob.length);
      assert.ok(blob.subarray(0, body.length).equals(body), 'what arrived is a prefix of the blob');
      assert.ok(mirror.logs.some((l) => l.includes('shutdown grace period over')));
    } finally {
      up.faults = {};
      await mirror.stop('SIGKILL');
    }
  });
});
