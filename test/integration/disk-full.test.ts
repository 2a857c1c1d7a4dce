// Disk full (docs/storage.md, "The cache"): stop caching, keep serving pass-through, log it once, recover when space
// returns. The mirror's temp and blob directories live on an 8 MiB tmpfs (same filesystem, so commits stay a rename);
// the SQLite index stays on the ordinary disk. Mounting needs root: elsewhere the suite is skipped, saying why.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readdir, rm, rmdir, statfs, symlink, unlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { request } from 'undici';
import { parseDigest } from '../../src/registry/digest.js';
import { FakeUpstream, sha256 } from '../support/fake/fake-upstream.js';
import { startMirror, type TestMirror } from '../support/mirror-app.js';

const MiB = 1024 * 1024;
const tmpfsSize = 8 * MiB;

function mount(dir: string): void {
  execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${tmpfsSize}`, 'tmpfs', dir], { stdio: 'pipe' });
}
function unmount(dir: string): void {
  execFileSync('umount', [dir], { stdio: 'pipe' });
}

/** Why the suite cannot run here, or false when a tmpfs can be mounted. */
async function cannotMount(): Promise<string | false> {
  const probe = await mkdtemp(join(tmpdir(), 'pullgate-tmpfs-probe-'));
  try {
    mount(probe);
    unmount(probe);
    return false;
  } catch (err) {
    return `cannot mount a tmpfs here (needs root): ${String(err).split('\n')[0]}`;
  } finally {
    await rmdir(probe);
  }
}

/** A GET that keeps what arrived before an abort: a transfer must fail, never deliver wrong or short bytes cleanly. */
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

// CI runs as root on machines where this works: there, not being able to mount is a failure, not a skip.
const unmountable = await cannotMount();
if (unmountable && process.env.CI) throw new Error(unmountable);

describe('a full disk', { skip: unmountable }, () => {
  let up: FakeUpstream;
  let mirror: TestMirror;
  let mountPoint: string;
  let dataDir: string;
  let now = Date.parse('2025-01-01T00:00:00Z');
  const filler = () => join(mountPoint, 'filler');

  const big = randomBytes(12 * MiB); // more than the whole filesystem
  const small = randomBytes(1 * MiB);
  const medium = randomBytes(2 * MiB);
  const url = (bytes: Buffer) => `${mirror.url}/v2/library/data/blobs/${sha256(bytes)}`;

  const cacheMarks = (bytes: Buffer): Array<string | undefined> =>
    mirror.logs.filter((l) => l.includes(`"reference":"${sha256(bytes)}"`)).map((l) => (JSON.parse(l) as { cache?: string }).cache);
  /** The access line is written when the server side of a response closes, which may be just after the client's end. */
  async function markOfRequest(bytes: Buffer, nth: number): Promise<string | undefined> {
    for (let i = 0; i < 200 && cacheMarks(bytes).length < nth; i++) await new Promise((r) => setTimeout(r, 10));
    return cacheMarks(bytes)[nth - 1];
  }
  const logged = (message: string) => mirror.logs.filter((l) => (JSON.parse(l) as { msg?: string }).msg?.startsWith(message)).length;
  const fetches = (bytes: Buffer) => up.count((r) => r.method === 'GET' && r.path.endsWith(`/blobs/${sha256(bytes)}`));
  const stored = async (bytes: Buffer): Promise<boolean> => {
    const digest = parseDigest(sha256(bytes));
    return mirror.app.cache.index.blob(digest) !== undefined || (await mirror.app.cache.store.stat(digest)) !== undefined;
  };
  async function tempFilesGone(): Promise<void> {
    for (let i = 0; i < 200 && (await readdir(join(mountPoint, 'tmp'))).length > 0; i++) await new Promise((r) => setTimeout(r, 10));
    assert.deepEqual(await readdir(join(mountPoint, 'tmp')), [], 'the failed fill removed its temp file');
  }

  /** A fill that hits the full disk: the client may be cut off, but never gets a wrong byte or a clean short end. */
  async function assertNeverCorrupt(bytes: Buffer): Promise<void> {
    const r = await transfer(url(bytes));
    assert.equal(r.status, 200);
    assert.ok(r.body.equals(bytes.subarray(0, r.body.length)), 'what arrived is a prefix of the blob');
    if (r.error === undefined) assert.equal(r.body.length, bytes.length, 'a transfer that ends cleanly is complete');
  }

  before(async () => {
    up = await new FakeUpstream().start();
    for (const b of [big, small, medium]) up.addBlob(b);
    mountPoint = await mkdtemp(join(tmpdir(), 'pullgate-tmpfs-'));
    mount(mountPoint);
    dataDir = await mkdtemp(join(tmpdir(), 'pullgate-disk-full-'));
    for (const dir of ['tmp', 'blobs']) {
      await mkdir(join(mountPoint, dir));
      await symlink(join(mountPoint, dir), join(dataDir, dir));
    }
    mirror = await startMirror({ upstreams: [{ name: 'hub', registry: 'docker.io', url: up.url, default: true }] }, { dataDir, clock: () => now });
  });
  after(async () => {
    await mirror?.close();
    await up?.stop();
    if (mountPoint) {
      unmount(mountPoint);
      await rmdir(mountPoint);
    }
    if (dataDir) await rm(dataDir, { recursive: true, force: true });
  });

  test('a fill that runs out of space delivers no wrong bytes, caches nothing and logs "disk full" once', async () => {
    await assertNeverCorrupt(big);
    await tempFilesGone();
    assert.equal(await stored(big), false);
    assert.equal(logged('disk full'), 1);
    assert.equal(mirror.app.cache.gate.suspended, true);
  });

  test('while caching is suspended, a retry and other pulls pass through with the right bytes and are not cached', async () => {
    up.reset();
    const retry = await transfer(url(big));
    assert.equal(retry.error, undefined);
    assert.ok(retry.body.equals(big));
    assert.equal(await markOfRequest(big, 2), 'PASS');

    for (let i = 1; i <= 2; i++) {
      const r = await transfer(url(small));
      assert.ok(r.body.equals(small));
      assert.equal(await markOfRequest(small, i), 'PASS');
    }
    assert.equal(fetches(small), 2, 'nothing was cached: each pull went upstream');
    assert.equal(await stored(small), false);
    assert.deepEqual(await readdir(join(mountPoint, 'tmp')), [], 'pass-through writes no temp file');
    assert.equal(logged('disk full'), 1);
  });

  test('after the back-off, a fill that finds the disk still full fails cleanly without logging again', async () => {
    await writeFile(filler(), randomBytes(7 * MiB));
    now += 61_000;
    await assertNeverCorrupt(medium);
    assert.equal(await markOfRequest(medium, 1), 'MISS', 'caching was tried again');
    await tempFilesGone();
    assert.equal(await stored(medium), false);
    const retry = await transfer(url(medium));
    assert.ok(retry.body.equals(medium));
    assert.equal(await markOfRequest(medium, 2), 'PASS');
    assert.equal(logged('disk full'), 1);
  });

  test('once space returns and the back-off is over, caching resumes: a MISS, then a HIT', async () => {
    await unlink(filler());
    now += 61_000;
    up.reset();
    const miss = await transfer(url(medium));
    assert.ok(miss.body.equals(medium));
    assert.equal(await markOfRequest(medium, 3), 'MISS');
    for (let i = 0; i < 200 && !(await stored(medium)); i++) await new Promise((r) => setTimeout(r, 10));
    const hit = await transfer(url(medium));
    assert.ok(hit.body.equals(medium));
    assert.equal(await markOfRequest(medium, 4), 'HIT');
    assert.equal(fetches(medium), 1);
    assert.equal(mirror.app.cache.gate.suspended, false);
    assert.equal(logged('disk has room again'), 1);
  });

  test('a write cut short by a full disk never leaves a hole in a blob that is then committed', async () => {
    // The free space is 1 MiB + 12 KiB: not a multiple of the upstream's 64 KiB chunks, so the write that fills the
    // disk is short (write(2) stores 12 KiB and says so). Space comes back before the next chunk arrives, as it does
    // when another fill fails and removes its temp file, or eviction runs: the next write then succeeds, at the offset
    // the fill would have reached had the short write been whole.
    const blob = randomBytes(2 * MiB);
    up.addBlob(blob);
    const { bavail, bsize } = await statfs(mountPoint);
    await writeFile(filler(), Buffer.alloc(bavail * bsize - (MiB + 12 * 1024), 1));
    const warningsBefore = logged('disk full');
    up.faults.blobChunkDelayMs = 50;
    const first = transfer(url(blob));
    let over = false;
    void first.finally(() => (over = true));
    let filled = false;
    try {
      for (let i = 0; i < 2000 && !over && !filled; i++) {
        filled = (await statfs(mountPoint)).bavail === 0;
        if (!filled) await new Promise((r) => setTimeout(r, 2));
      }
      filled ||= (await statfs(mountPoint)).bavail === 0;
      await unlink(filler());
    } finally {
      up.faults.blobChunkDelayMs = 0;
    }
    // A client arriving now follows the fill (or passes through, if it failed): wrong bytes must never end cleanly.
    await new Promise((r) => setTimeout(r, 150));
    const follower = await transfer(url(blob));
    const r = await first;
    assert.ok(filled || logged('disk full') > warningsBefore, 'the fill reached the end of the space');
    assert.ok(r.body.equals(blob.subarray(0, r.body.length)), 'the first client got a prefix of the blob');
    const followerMark = await markOfRequest(blob, 2);
    for (let i = 0; i < 500 && mirror.app.services.fills.size > 0; i++) await new Promise((r) => setTimeout(r, 10));
    const later = await transfer(url(blob));
    assert.equal(later.error, undefined);
    const laterMark = await markOfRequest(blob, 3);
    const firstWrong = (b: Buffer) => b.findIndex((byte, i) => byte !== blob[i]);
    assert.deepEqual(
      { follower: firstWrong(follower.body), later: firstWrong(later.body) },
      { follower: -1, later: -1 },
      `first wrong byte (-1: none) for a ${followerMark} follower that ${follower.error === undefined ? 'ended cleanly' : 'was aborted'}, ` +
        `and for a later ${laterMark}`,
    );
  });
});
