// One running Pullgate per data directory (docs/operating.md, "One server per data directory"): a second start on a
// directory another running server uses refuses with one line naming the directory and the process holding it, and
// exits 1 before it touches anything there; once the first is gone, even killed with SIGKILL, a start works. The
// supervisor of several workers holds the directory for its workers.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { stringify } from 'yaml';
import { mainScript, spawnMirror } from '../support/mirror-process.js';
import { spawnWorkers } from '../support/workers-process.js';

const upstreams = [{ name: 'hub', registry: 'docker.io', url: 'http://127.0.0.1:9', default: true }];

/** Runs `pullgate serve` on `dataDir` until it exits, or until it says it listens (then stops it): its exit and output. */
async function secondStart(dir: string, dataDir: string, config: Record<string, unknown>): Promise<{ code: number | null; output: string; listened: boolean }> {
  const file = join(dir, 'second.yaml');
  await writeFile(file, stringify({ listen: { http: '127.0.0.1:0' }, dataDir, upstreams, ...config }));
  const child = spawn(process.execPath, ['--import', 'tsx', mainScript, 'serve', '--config', file], { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  let listened = false;
  const onData = (d: Buffer): void => {
    output += d.toString();
    if (!listened && /"pullgate (workers )?listening"/.test(output)) {
      listened = true;
      child.kill('SIGTERM');
    }
  };
  child.stdout.on('data', onData);
  child.stderr.on('data', onData);
  const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
  const code = await new Promise<number | null>((resolve) => child.on('exit', (c) => resolve(c)));
  clearTimeout(timer);
  return { code, output, listened };
}

for (const workers of [1, 2]) {
  const what = workers > 1 ? `a supervisor of ${workers} workers` : 'one process';
  test(`${what}: a second start on the data directory refuses with one line and exits 1; after a SIGKILL of the first a start works`, { timeout: 120_000 }, async () => {
    const dir = await mkdtemp(join(tmpdir(), 'pullgate-lock-'));
    const dataDir = join(dir, 'data');
    const config = { upstreams, ...(workers > 1 ? { workers } : {}) };
    const first = workers > 1 ? await spawnWorkers(dir, config) : await spawnMirror(dir, config);
    try {
      const refused = await secondStart(dir, dataDir, workers > 1 ? { workers } : {});
      assert.equal(refused.listened, false, `the second start served:\n${refused.output}`);
      assert.equal(refused.code, 1, refused.output);
      const line = `pullgate: the data directory ${dataDir} is in use by another pullgate (pid ${first.child.pid}); stop it or give this one its own data directory\n`;
      assert.equal(refused.output, line);

      assert.equal(await first.stop('SIGKILL'), null);
      const next = await secondStart(dir, dataDir, workers > 1 ? { workers } : {});
      assert.equal(next.listened, true, next.output);
    } finally {
      await first.stop('SIGKILL');
      await rm(dir, { recursive: true, force: true });
    }
  });
}

test('a lock file that is not one (another program\'s file, a directory) refuses the start with one line naming it, and is left as it was', { timeout: 60_000 }, async () => {
  const dir = await mkdtemp(join(tmpdir(), 'pullgate-lock-'));
  const dataDir = join(dir, 'data');
  const lockFile = join(dataDir, 'pullgate.lock');
  try {
    await mkdir(dataDir, { recursive: true });
    await writeFile(lockFile, '4242\n');
    const notSqlite = await secondStart(dir, dataDir, {});
    assert.equal(notSqlite.code, 1, notSqlite.output);
    assert.equal(notSqlite.output, `pullgate: cannot lock the data directory: ${lockFile}: file is not a database\n`);
    assert.equal(await readFile(lockFile, 'utf8'), '4242\n');

    await rm(lockFile);
    await mkdir(lockFile);
    const aDirectory = await secondStart(dir, dataDir, {});
    assert.equal(aDirectory.code, 1, aDirectory.output);
    assert.equal(aDirectory.output, `pullgate: cannot lock the data directory: ${lockFile}: unable to open database file\n`);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('a server whose lock file is removed while it runs takes it again: a start after is still refused, naming it', { timeout: 60_000 }, async () => {
  const dir = await mkdtemp(join(tmpdir(), 'pullgate-lock-'));
  const dataDir = join(dir, 'data');
  const first = await spawnMirror(dir, { upstreams });
  try {
    await rm(join(dataDir, 'pullgate.lock'));
    const refused = await secondStart(dir, dataDir, {});
    assert.equal(refused.listened, false, `the second start served:\n${refused.output}`);
    assert.equal(refused.code, 1, refused.output);
    assert.equal(refused.output, `pullgate: the data directory ${dataDir} is in use by another pullgate (pid ${first.child.pid}); stop it or give this one its own data directory\n`);
    assert.ok(first.logs.some((l) => l.includes('lock file was removed or replaced while this server ran; it holds it again')), first.logs.join('\n'));
  } finally {
    await first.stop('SIGKILL');
    await rm(dir, { recursive: true, force: true });
  }
});
