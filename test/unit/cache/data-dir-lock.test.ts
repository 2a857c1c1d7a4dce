// The data directory's lock (src/cache/data-dir-lock.ts; docs/operating.md, "One server per data directory"): held by
// one process at a time, naming its holder to whoever is refused, and gone with the process however it ends.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { DataDirInUseError, lockDataDir } from '../../../src/cache/data-dir-lock.js';

const lockModule = fileURLToPath(new URL('../../../src/cache/data-dir-lock.ts', import.meta.url));

/** Another process holding `dataDir` until it is killed. */
async function holder(dataDir: string): Promise<ChildProcess> {
  const script = `const { lockDataDir } = await import(${JSON.stringify(lockModule)}); await lockDataDir(${JSON.stringify(dataDir)}); console.log('held'); setInterval(() => {}, 60_000);`;
  const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
  const [data] = (await once(child.stdout!, 'data')) as [Buffer];
  assert.equal(data.toString().trim(), 'held');
  return child;
}

describe('the data directory lock', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'pullgate-lock-unit-'));
  });
  after(() => rm(dir, { recursive: true, force: true }));

  it('refuses another process, naming the holder\'s pid; once the holder is killed (SIGKILL) it is free', async () => {
    const dataDir = join(dir, 'a');
    const child = await holder(dataDir);
    try {
      await assert.rejects(lockDataDir(dataDir), (err: unknown) => {
        assert.ok(err instanceof DataDirInUseError);
        assert.equal(err.holder, child.pid);
        assert.equal(err.message, `the data directory ${dataDir} is in use by another pullgate (pid ${child.pid}); stop it or give this one its own data directory`);
        return true;
      });
    } finally {
      child.kill('SIGKILL');
      await once(child, 'exit');
    }
    const lock = await lockDataDir(dataDir);
    lock.release();
  });

  it('is free again once released, and made with its directory when missing', async () => {
    const dataDir = join(dir, 'b', 'data');
    (await lockDataDir(dataDir)).release();
    (await lockDataDir(dataDir)).release();
  });
});
