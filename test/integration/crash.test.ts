import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { request } from 'undici';
import { FakeUpstream } from '../support/fake/fake-upstream.js';
import { mainScript, spawnMirror } from '../support/mirror-process.js';

function cli(args: string[]): Promise<{ code: number; stdout: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, ['--import', 'tsx', mainScript, ...args], (err, stdout) => {
      resolve({ code: err ? Number((err as { code?: unknown }).code ?? 1) : 0, stdout });
    });
  });
}

async function download(url: string): Promise<Buffer> {
  const res = await request(url);
  return Buffer.from(await res.body.arrayBuffer());
}

describe('a crash in the middle of a fill', () => {
  let dir: string;
  let up: FakeUpstream;
  const blob = randomBytes(4 * 1024 * 1024);
  let digest: string;
  const config = () => ({ upstreams: [{ name: 'hub', registry: 'docker.io', url: up.url, default: true }] });

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'pullgate-crash-'));
    up = await new FakeUpstream().start();
    digest = up.addBlob(blob);
  });
  after(async () => {
    await up.stop();
    await rm(dir, { recursive: true, force: true });
  });

  test('leaves no servable partial blob after a restart, and the next pull refetches it whole', { timeout: 60_000 }, async () => {
    const first = await spawnMirror(dir, config());
    up.faults.blobChunkDelayMs = 20;
    const res = await request(`${first.url}/v2/library/alpine/blobs/${digest}`);
    for await (const _chunk of res.body) break;
    const partial = await readdir(join(dir, 'data', 'tmp'));
    assert.equal(partial.length, 1, 'a fill was in progress');
    await first.stop('SIGKILL');
    res.body.destroy();

    up.reset();
    const second = await spawnMirror(dir, config());
    try {
      assert.deepEqual(await readdir(join(dir, 'data', 'tmp')), [], 'the partial file is gone');
      const bytes = await download(`${second.url}/v2/library/alpine/blobs/${digest}`);
      assert.ok(bytes.equals(blob));
      assert.equal(up.count((r) => r.method === 'GET' && r.path.endsWith(digest)), 1, 'fetched again from the upstream');
    } finally {
      assert.equal(await second.stop(), 0);
    }
  });

  test('cache verify finds a stored blob whose bytes went bad and drops it', { timeout: 60_000 }, async () => {
    const clean = await cli(['cache', 'verify', '--config', join(dir, 'pullgate.yaml')]);
    assert.equal(clean.code, 0);
    assert.equal((JSON.parse(clean.stdout) as { bad: number }).bad, 0);
    const hex = digest.slice('sha256:'.length);
    const file = join(dir, 'data', 'blobs', 'sha256', hex.slice(0, 2), hex);
    const bytes = await readFile(file);
    bytes[100] = bytes[100]! ^ 0xff;
    await writeFile(file, bytes);
    const bad = await cli(['cache', 'verify', '--config', join(dir, 'pullgate.yaml')]);
    assert.equal(bad.code, 1);
    assert.equal((JSON.parse(bad.stdout) as { bad: number }).bad, 1);
    await assert.rejects(readFile(file), /ENOENT/);
  });
});
