// The data directory holds the index (registry users' password hashes, repository names), the secret key and the
// workers' shared counts (client addresses): a directory the mirror creates is its own user's only
// (docs/security.md, "Secrets the admin keeps").
import assert from 'node:assert/strict';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { startMirror } from '../support/mirror-app.js';
import { spawnWorkers } from '../support/workers-process.js';

test('a data directory the mirror creates is readable by its own user only', async () => {
  const parent = await mkdtemp(join(tmpdir(), 'pullgate-mode-'));
  const dataDir = join(parent, 'data');
  const mirror = await startMirror({ upstreams: [{ name: 'hub', registry: 'docker.io', url: 'http://127.0.0.1:9', default: true }] }, { dataDir });
  try {
    const mode = (await stat(dataDir)).mode & 0o777;
    assert.equal(mode & 0o077, 0, `data directory mode ${mode.toString(8)}`);
  } finally {
    await mirror.close();
    await rm(parent, { recursive: true, force: true });
  }
});

test('a data directory the supervisor of several workers creates is readable by its own user only', { timeout: 60_000 }, async () => {
  const parent = await mkdtemp(join(tmpdir(), 'pullgate-mode-workers-'));
  const server = await spawnWorkers(parent, { workers: 2, upstreams: [{ name: 'hub', registry: 'docker.io', url: 'http://127.0.0.1:9', default: true }] });
  try {
    const mode = (await stat(join(parent, 'data'))).mode & 0o777;
    assert.equal(mode & 0o077, 0, `data directory mode ${mode.toString(8)}`);
  } finally {
    await server.stop('SIGTERM');
    await rm(parent, { recursive: true, force: true });
  }
});
