// A daemon a test starts itself (containerd, dockerd): a stop that ends it (SIGTERM, then SIGKILL) and removes its
// private directory, once however often it is called; and a start-up wait that polls a probe until the daemon
// answers, failing with its log when it exits or does not answer in time.
import type { ChildProcess } from 'node:child_process';
import { rm } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';

const running = (child: ChildProcess): boolean => child.exitCode === null && child.signalCode === null;

export interface Daemon {
  child: ChildProcess;
  /** Its private directory, removed on stop. */
  dir: string;
  name: string;
  logs: () => string;
}

/** The daemon's stop: idempotent; SIGKILL after `killAfterMs` when SIGTERM is not enough. */
export function daemonStop(d: Daemon, killAfterMs: number): () => Promise<void> {
  const exited = new Promise<void>((resolve) => {
    if (!running(d.child)) resolve();
    else d.child.once('exit', () => resolve());
  });
  let stopping: Promise<void> | undefined;
  return () =>
    (stopping ??= (async () => {
      if (running(d.child)) {
        d.child.kill('SIGTERM');
        const timer = setTimeout(() => d.child.kill('SIGKILL'), killAfterMs);
        await exited;
        clearTimeout(timer);
      }
      await rm(d.dir, { recursive: true, force: true });
    })());
}

/** Polls `probe` until it answers; on failure stops the daemon and throws with the end of its log. */
export async function awaitDaemon(d: Daemon, probe: () => Promise<boolean>, o: { timeoutMs: number; everyMs: number; what: string; stop: () => Promise<void> }): Promise<void> {
  try {
    const deadline = Date.now() + o.timeoutMs;
    for (;;) {
      if (!running(d.child)) throw new Error(`${d.name} exited during start-up:\n${d.logs().slice(-4000)}`);
      if (await probe()) return;
      if (Date.now() > deadline) throw new Error(`${d.name} did not answer on ${o.what} within ${o.timeoutMs / 1000} s:\n${d.logs().slice(-4000)}`);
      await sleep(o.everyMs);
    }
  } catch (err) {
    await o.stop();
    throw err;
  }
}
