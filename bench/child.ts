// Server processes the bench starts: PR_SET_PDEATHSIG through util-linux's setpriv (which execs, so the pid is
// the server's own), captured output, line callbacks, and a stop that waits for the exit.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';

export interface Child {
  pid: number;
  name: string;
  /** The last lines of stdout and stderr. */
  output(): string;
  exited(): boolean;
  /** Resolves when the process has exited. */
  exit: Promise<void>;
  /** SIGTERM, SIGKILL after `graceMs`; idempotent. */
  stop(graceMs?: number): Promise<void>;
}

export interface SpawnOptions {
  name: string;
  command: string;
  args: string[];
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  onLine?: (line: string) => void;
}

const maxLines = 4000;
const live = new Set<ChildProcess>();
process.on('exit', () => {
  for (const child of live) child.kill('SIGKILL');
});

export function spawnChild(o: SpawnOptions): Child {
  const setpriv = existsSync('/usr/bin/setpriv') ? '/usr/bin/setpriv' : undefined;
  const [command, args] = setpriv ? [setpriv, ['--pdeathsig', 'KILL', '--', o.command, ...o.args]] : [o.command, o.args];
  const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'], env: o.env ?? process.env, cwd: o.cwd });
  if (child.pid === undefined) throw new Error(`could not start ${o.name} (${o.command})`);
  live.add(child);
  const lines: string[] = [];
  const reader = (stream: NodeJS.ReadableStream | null): void => {
    let partial = '';
    stream?.setEncoding('utf8');
    stream?.on('data', (text: string) => {
      const parts = (partial + text).split('\n');
      partial = parts.pop() ?? '';
      for (const line of parts) {
        lines.push(line);
        o.onLine?.(line);
      }
      if (lines.length > maxLines) lines.splice(0, lines.length - maxLines / 2);
    });
  };
  reader(child.stdout);
  reader(child.stderr);
  let exitedFlag = false;
  const exit = new Promise<void>((resolve) =>
    child.once('exit', () => {
      exitedFlag = true;
      live.delete(child);
      resolve();
    }),
  );
  child.once('error', () => undefined);
  let stopping: Promise<void> | undefined;
  return {
    pid: child.pid,
    name: o.name,
    output: () => lines.join('\n'),
    exited: () => exitedFlag,
    exit,
    stop: (graceMs = 10_000) =>
      (stopping ??= (async () => {
        if (exitedFlag) return;
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
        await exit;
        clearTimeout(timer);
      })()),
  };
}
