// Pullgate with several workers as a child process (`serve` through the real CLI, `workers: n`): started once every
// worker listens, with the workers' pids read from their log lines and the fill leases from the data directory.
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { stringify } from 'yaml';
import { mainScript } from './mirror-process.js';

export interface WorkersProcess {
  child: ChildProcess;
  /** http://127.0.0.1:PORT of the registry listener (shared by every worker). */
  url: string;
  /** The admin listener of the lead worker, when configured. */
  admin?: string;
  /** The HTTPS port (the SNI router of every worker), when configured. */
  https?: string;
  logs: string[];
  /** JSON log lines, parsed. */
  lines(): Array<Record<string, unknown>>;
  /** Pids of the workers that said they listen (replacements included). */
  workerPids(): number[];
  /** The pid of the worker holding a lease (`fills/sha256/<hex>`), from the workers' lease file. */
  leaseHolder(name: string): number | undefined;
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/**
 * Whether `pid` still runs: alive and not a zombie (a process that has exited, its parent not yet having collected
 * it: it holds no file, lock or socket any more). Workers whose supervisor was killed are collected by init, late.
 */
export function isRunning(pid: number): boolean {
  if (!isAlive(pid)) return false;
  const stat = readFileSync(`/proc/${pid}/stat`, { encoding: 'utf8', flag: 'r' });
  return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
}

export async function spawnWorkers(dir: string, config: Record<string, unknown>, env: NodeJS.ProcessEnv = {}): Promise<WorkersProcess> {
  const file = join(dir, 'pullgate.yaml');
  const dataDir = join(dir, 'data');
  await writeFile(file, stringify({ listen: { http: '127.0.0.1:0' }, dataDir, log: { level: 'info' }, ...config }));
  const child = spawn(process.execPath, ['--import', 'tsx', mainScript, 'serve', '--config', file], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
  const logs: string[] = [];
  let buffered = '';
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  child.stderr?.on('data', (d: Buffer) => logs.push(d.toString()));
  const ready = await new Promise<{ http: string; admin?: string; https?: string }>((resolve, reject) => {
    child.stdout?.on('data', (d: Buffer) => {
      buffered += d.toString();
      const lines = buffered.split('\n');
      buffered = lines.pop() ?? '';
      for (const line of lines) {
        logs.push(line);
        if (line.includes('"pullgate workers listening"')) resolve(JSON.parse(line) as { http: string; admin?: string; https?: string });
      }
    });
    void exited.then((code) => reject(new Error(`pullgate exited with ${code} before listening:\n${logs.join('\n')}`)));
  });
  const lines = () =>
    logs.flatMap((l) => {
      try {
        return [JSON.parse(l) as Record<string, unknown>];
      } catch {
        return [];
      }
    });
  return {
    child,
    url: ready.http,
    ...(ready.admin ? { admin: ready.admin } : {}),
    ...(ready.https ? { https: ready.https } : {}),
    logs,
    lines,
    workerPids: () => [
      ...new Set(
        lines().flatMap((l) =>
          l.msg === 'pullgate workers listening' ? (l.pids as number[]) : l.msg === 'pullgate listening' && typeof l.pid === 'number' ? [l.pid] : [],
        ),
      ),
    ],
    leaseHolder(name) {
      const db = new Database(join(dataDir, 'workers.db'), { readonly: true, fileMustExist: true });
      try {
        return (db.prepare('SELECT pid FROM leases WHERE name = ?').get(name) as { pid: number } | undefined)?.pid;
      } finally {
        db.close();
      }
    },
    async stop(signal = 'SIGTERM') {
      if (child.exitCode === null) child.kill(signal);
      return exited;
    },
  };
}
