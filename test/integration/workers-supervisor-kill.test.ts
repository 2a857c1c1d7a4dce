// One set of processes per data directory, even when only the supervisor of `workers: N` is SIGKILLed
// (docs/operating.md, "One server per data directory"): its workers hold the directory too, so a start after the
// kill holds it only once none of them lives, and they go at once when their supervisor does.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { DataDirInUseError, lockDataDir, type DataDirLock } from '../../src/cache/data-dir-lock.js';
import { isAlive, isRunning, spawnWorkers, type WorkersProcess } from '../support/workers-process.js';

describe('workers whose supervisor is SIGKILLed', () => {
  let dir: string;
  let server: WorkersProcess | undefined;
  after(async () => {
    await server?.stop('SIGKILL');
    for (const pid of server?.workerPids() ?? []) if (isAlive(pid)) process.kill(pid, 'SIGKILL');
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  test('a start after the kill never holds the data directory while a worker lives, and the workers go within a moment', { timeout: 60_000 }, async () => {
    dir = await mkdtemp(join(tmpdir(), 'pullgate-supervisor-kill-'));
    server = await spawnWorkers(dir, { workers: 3 });
    const workers = server.workerPids();
    assert.equal(workers.length, 3);
    const killedAt = performance.now();
    server.child.kill('SIGKILL');
    // A start right after the kill (as a service manager's restart would be): its lock is tried again and again.
    let lock: DataDirLock | undefined;
    let refusals = 0;
    while (!lock && performance.now() - killedAt < 20_000) {
      try {
        lock = await lockDataDir(join(dir, 'data'));
      } catch (err) {
        assert.ok(err instanceof DataDirInUseError, String(err));
        refusals++;
        await new Promise((r) => setTimeout(r, 10));
      }
      if (lock) {
        const alive = workers.filter(isRunning);
        assert.deepEqual(alive, [], `the new start held the data directory while workers ${alive.join(', ')} of the killed supervisor lived`);
      }
    }
    assert.ok(lock, 'the data directory is free once the workers are gone');
    lock.release();
    const goneAfterMs = performance.now() - killedAt;
    assert.ok(goneAfterMs < 1_000, `the workers went within a moment of their supervisor (${Math.round(goneAfterMs)} ms, ${refusals} refusals)`);
  });

  test('after the lock file was removed and taken again, a start after the kill still waits for the workers', { timeout: 60_000 }, async () => {
    const base = await mkdtemp(join(tmpdir(), 'pullgate-supervisor-kill-rm-'));
    const other = await spawnWorkers(base, { workers: 2 });
    const workers = other.workerPids();
    try {
      const file = join(base, 'data', 'pullgate.lock');
      await rm(file);
      for (let waited = 0; !existsSync(file); waited += 20) {
        assert.ok(waited < 5_000, 'the supervisor takes the lock file again');
        await new Promise((r) => setTimeout(r, 20));
      }
      // A moment for the workers to follow; then they are stopped (SIGSTOP) so that they cannot exit with their supervisor.
      await new Promise((r) => setTimeout(r, 2_500));
      for (const pid of workers) process.kill(pid, 'SIGSTOP');
      other.child.kill('SIGKILL');
      await other.stop('SIGKILL');
      await assert.rejects(lockDataDir(join(base, 'data')), DataDirInUseError, 'a start is refused while workers of the killed supervisor run');
      for (const pid of workers) process.kill(pid, 'SIGKILL');
      for (let waited = 0; workers.some(isRunning); waited += 20) {
        assert.ok(waited < 5_000);
        await new Promise((r) => setTimeout(r, 20));
      }
      (await lockDataDir(join(base, 'data'))).release();
    } finally {
      for (const pid of workers) if (isAlive(pid)) process.kill(pid, 'SIGKILL');
      await rm(base, { recursive: true, force: true });
    }
  });
});
