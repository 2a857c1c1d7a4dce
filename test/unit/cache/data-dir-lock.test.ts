// The data directory's lock (src/cache/data-dir-lock.ts; docs/operating.md, "One server per data directory"): held by
// one process at a time, naming its holder to whoever is refused, and gone with the process however it ends.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { existsSync } from 'node:fs';
import { pino } from 'pino';
import { DataDirInUseError, lockChangeLogEveryMs, lockDataDir } from '../../../src/cache/data-dir-lock.js';

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
        assert.deepEqual(err.holder, { pid: child.pid, host: hostname() });
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

  it('a process sharing the hold (a worker) keeps the directory held after its holder is SIGKILLed, until it exits', { timeout: 30_000 }, async () => {
    const dataDir = join(dir, 'shared');
    const supervisor = await holder(dataDir);
    const script = `const { shareDataDirLock } = await import(${JSON.stringify(lockModule)}); shareDataDirLock(${JSON.stringify(dataDir)}); console.log('shared'); setInterval(() => {}, 60_000);`;
    const worker = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
    try {
      const [data] = (await once(worker.stdout!, 'data')) as [Buffer];
      assert.equal(data.toString().trim(), 'shared');
      supervisor.kill('SIGKILL');
      await once(supervisor, 'exit');
      await assert.rejects(lockDataDir(dataDir), (err: unknown) => {
        assert.ok(err instanceof DataDirInUseError, String(err));
        return true;
      });
    } finally {
      worker.kill('SIGKILL');
      await once(worker, 'exit');
    }
    (await lockDataDir(dataDir)).release();
  });

  it('a lock file removed again and again is held again each time, and told once, then at most once a minute with a count', { timeout: 30_000 }, async () => {
    const dataDir = join(dir, 'replaced');
    const lines: Array<{ msg: string; changes?: number }> = [];
    const log = pino({ level: 'info' }, { write: (line: string) => void lines.push(JSON.parse(line) as { msg: string; changes?: number }) });
    let now = 1_000_000;
    const lock = await lockDataDir(dataDir);
    lock.watch(log, () => now);
    const file = join(dataDir, 'pullgate.lock');
    try {
      for (let i = 0; i < 10; i++) {
        await rm(file);
        for (let waited = 0; !existsSync(file); waited += 10) {
          assert.ok(waited < 5_000, 'the lock file is taken again');
          await sleep(10);
        }
      }
      const told = () => lines.filter((l) => l.msg.includes('lock file was removed or replaced'));
      assert.equal(told().length, 1, 'ten changes within a minute are told once');
      now += lockChangeLogEveryMs;
      for (let waited = 0; told().length < 2 && waited < 3_000; waited += 50) await sleep(50);
      assert.equal(told().length, 2, 'once the minute is over, the changes since are told');
      assert.equal(told()[1]?.changes, 9);
      await assert.rejects(lockDataDir(dataDir), DataDirInUseError, 'still held after every change');
    } finally {
      lock.release();
    }
  });

  it('is free again once released, and made with its directory when missing', async () => {
    const dataDir = join(dir, 'b', 'data');
    (await lockDataDir(dataDir)).release();
    (await lockDataDir(dataDir)).release();
  });
});

/** A process that calls lockDataDir at wall-clock time `at` and prints what it got: `held PID` or `refused HOLDER`. */
function racer(dataDir: string, at: number): { child: ChildProcess; said: Promise<string> } {
  const script = `const { lockDataDir, DataDirInUseError } = await import(${JSON.stringify(lockModule)});
    while (Date.now() < ${at}) {}
    try { await lockDataDir(${JSON.stringify(dataDir)}); console.log('held ' + process.pid); setInterval(() => {}, 60_000); }
    catch (err) { console.log(err instanceof DataDirInUseError ? 'refused ' + err.holder?.pid : 'failed ' + String(err)); process.exit(0); }`;
  const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  const said = new Promise<string>((resolve) => {
    child.stdout!.on('data', () => out.includes('\n') && resolve(out.trim()));
    child.on('exit', () => resolve(out.trim()));
  });
  return { child, said };
}

describe('the data directory lock, raced', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'pullgate-lock-race-'));
  });
  after(() => rm(dir, { recursive: true, force: true }));

  it('of starts at the same instant on a new directory exactly one holds it, and every other names the holder\'s pid', { timeout: 120_000 }, async () => {
    for (let round = 0; round < 8; round++) {
      const dataDir = join(dir, `r${round}`);
      const at = Date.now() + 1500;
      const racers = Array.from({ length: 4 }, () => racer(dataDir, at));
      try {
        const said = await Promise.all(racers.map((r) => r.said));
        const held = said.filter((s) => s.startsWith('held '));
        assert.equal(held.length, 1, `round ${round}: ${said.join(' | ')}`);
        const holder = held[0]!.slice('held '.length);
        for (const s of said.filter((s) => !s.startsWith('held '))) assert.equal(s, `refused ${holder}`, `round ${round}: ${said.join(' | ')}`);
        await assert.rejects(lockDataDir(dataDir), (err: unknown) => err instanceof DataDirInUseError && err.holder?.pid === Number(holder));
      } finally {
        for (const r of racers) r.child.kill('SIGKILL');
        await Promise.all(racers.map((r) => (r.child.exitCode === null && r.child.signalCode === null ? once(r.child, 'exit') : undefined)));
      }
    }
  });
});

describe('the data directory lock, across pid namespaces', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'pullgate-lock-ns-'));
  });
  after(() => rm(dir, { recursive: true, force: true }));

  /** `lockDataDir` in a process of its own pid namespace (pid 1, as in a container), with host name `host`: what it said, and how long it took. */
  function inNamespace(dataDir: string, host: string): { child: ChildProcess; said: Promise<{ said: string; ms: number }> } {
    const script = `const { lockDataDir, DataDirInUseError } = await import(${JSON.stringify(lockModule)});
      const started = Date.now();
      const say = (said) => console.log(JSON.stringify({ said, ms: Date.now() - started }));
      try { await lockDataDir(${JSON.stringify(dataDir)}); say('held ' + process.pid); setInterval(() => {}, 60_000); }
      catch (err) { say(err instanceof DataDirInUseError ? err.message : 'failed ' + String(err)); process.exit(0); }`;
    const child = spawn('unshare', ['--pid', '--uts', '--kill-child', 'sh', '-c', 'hostname "$0" && exec "$@"', host, process.execPath, '--import', 'tsx', '--input-type=module', '-e', script], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    const said = new Promise<{ said: string; ms: number }>((resolve, reject) => {
      child.stdout!.on('data', (d: Buffer) => {
        out += d.toString();
        if (out.includes('\n')) resolve(JSON.parse(out) as { said: string; ms: number });
      });
      child.on('exit', (code) => reject(new Error(`exited ${code} having said ${out}`)));
    });
    return { child, said };
  }

  it('a start in a container whose pid is the holder\'s (pid 1 each) is refused at once, naming the holder\'s host', { timeout: 30_000 }, async () => {
    const dataDir = join(dir, 'shared-volume');
    const holding = inNamespace(dataDir, 'pullgate-a');
    try {
      assert.equal((await holding.said).said, 'held 1');
      const refused = await inNamespace(dataDir, 'pullgate-b').said;
      assert.equal(refused.said, `the data directory ${dataDir} is in use by another pullgate (pid 1 on host pullgate-a); stop it or give this one its own data directory`);
      assert.ok(refused.ms < 1_000, `refused after ${refused.ms} ms`);
    } finally {
      holding.child.kill('SIGKILL');
    }
  });
});
