// The process's memory settings reach every serving process (src/cli/memory-settings.ts, docs/operating.md#memory):
// `serve` started without them runs with them, and so do the workers its supervisor forks. Read from /proc, where
// the kernel keeps the environment and the arguments each process was started with.
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, it } from 'node:test';
import { memoryEnv, memoryNodeArgs } from '../../src/cli/memory-settings.js';
import { spawnMirror } from '../support/mirror-process.js';

const nulSeparated = async (path: string): Promise<string[]> => (await readFile(path, 'utf8')).split('\0').filter((s) => s !== '');
/** The cluster workers among a process's children (tsx's esbuild is one too): node:cluster gives them NODE_UNIQUE_ID. */
async function workersOf(pid: number): Promise<number[]> {
  const children = (await readFile(`/proc/${pid}/task/${pid}/children`, 'utf8')).split(' ').filter((s) => s.trim() !== '').map(Number);
  const isWorker = async (child: number): Promise<boolean> => (await nulSeparated(`/proc/${child}/environ`)).some((v) => v.startsWith('NODE_UNIQUE_ID='));
  return (await Promise.all(children.map(async (c) => ((await isWorker(c)) ? [c] : [])))).flat();
}

async function assertSettings(pid: number, who: string): Promise<void> {
  const env = await nulSeparated(`/proc/${pid}/environ`);
  for (const [name, value] of Object.entries(memoryEnv)) assert.ok(env.includes(`${name}=${value}`), `${who}: ${name}=${value} in its environment`);
  const argv = await nulSeparated(`/proc/${pid}/cmdline`);
  for (const flag of memoryNodeArgs) assert.ok(argv.includes(flag), `${who}: ${flag} in ${argv.join(' ')}`);
}

describe('memory settings of a serving process', () => {
  it('serve, started without them, runs with them; so do both workers of workers: 2, and the pid stays the one started', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'pullgate-memory-settings-'));
    const mirror = await spawnMirror(dir, { workers: 2, upstreams: [{ name: 'up', registry: 'docker.io', url: 'http://127.0.0.1:9', default: true }] });
    try {
      const pid = mirror.child.pid!;
      await assertSettings(pid, 'the supervisor');
      let workers: number[] = [];
      for (let i = 0; i < 100 && workers.length < 2; i++, await sleep(100)) workers = await workersOf(pid);
      assert.equal(workers.length, 2, `the supervisor's workers: ${workers.join(', ')}`);
      for (const worker of workers) await assertSettings(worker, `worker ${worker}`);
    } finally {
      await mirror.stop();
      await rm(dir, { recursive: true, force: true });
    }
  });
});
