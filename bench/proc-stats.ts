// Per-process figures from /proc: CPU-seconds (utime + stime over CLK_TCK, all threads of the process) and
// memory (VmRSS, VmHWM). Linux only, which is what the bench runs on.
import { execFileSync } from 'node:child_process';
import { readdir, readFile } from 'node:fs/promises';

let ticksPerSecond: number | undefined;

/** `getconf CLK_TCK`, asked once. */
export function clockTicks(): number {
  if (ticksPerSecond === undefined) {
    const value = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim());
    if (!Number.isInteger(value) || value <= 0) throw new Error(`getconf CLK_TCK gave ${value}`);
    ticksPerSecond = value;
  }
  return ticksPerSecond;
}

/** utime + stime of a whole process (the thread group), in seconds. */
export async function cpuSeconds(pid: number): Promise<number> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
  // Field 2 (comm) may hold spaces and parentheses; everything after the last ')' is space-separated from field 3.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const utime = Number(fields[14 - 3]);
  const stime = Number(fields[15 - 3]);
  if (!Number.isFinite(utime) || !Number.isFinite(stime)) throw new Error(`cannot parse /proc/${pid}/stat`);
  return (utime + stime) / clockTicks();
}

export interface Memory {
  /** Resident set size now, bytes. */
  rss: number;
  /** Peak resident set size (high-water mark) since the process started, bytes. */
  hwm: number;
  /** RSS split: anonymous memory (heaps, buffers), mapped files (the binary, libraries, SQLite's mappings), shared. */
  anon: number;
  file: number;
  shmem: number;
}

export async function memory(pid: number): Promise<Memory> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const kb = (name: string): number => {
    const match = new RegExp(`^${name}:\\s+(\\d+) kB$`, 'm').exec(status);
    if (match?.[1] === undefined) throw new Error(`no ${name} in /proc/${pid}/status`);
    return Number(match[1]) * 1024;
  };
  return { rss: kb('VmRSS'), hwm: kb('VmHWM'), anon: kb('RssAnon'), file: kb('RssFile'), shmem: kb('RssShmem') };
}

/**
 * A process and its descendants (a supervisor and its workers; nginx's master and workers), from the `children`
 * lists of every thread (a child forked from any thread is listed there).
 */
export async function processTree(pid: number): Promise<number[]> {
  const tasks = await readdir(`/proc/${pid}/task`).catch(() => [] as string[]);
  const lists = await Promise.all(tasks.map((t) => readFile(`/proc/${pid}/task/${t}/children`, 'utf8').catch(() => '')));
  const children = [...new Set(lists.join(' ').split(/\s+/).filter(Boolean).map(Number))];
  const below = await Promise.all(children.map(processTree));
  return [pid, ...below.flat()];
}

/** utime + stime summed over a process and its descendants that are alive now, in seconds. */
export async function treeCpuSeconds(pid: number): Promise<number> {
  const each = await Promise.all((await processTree(pid)).map((p) => cpuSeconds(p).catch(() => 0)));
  return each.reduce((a, b) => a + b, 0);
}

/** Memory of a process tree: RSS summed, and the highest peak RSS of any one of its processes. */
export async function treeMemory(pid: number): Promise<Memory & { processes: number }> {
  const pids = await processTree(pid);
  const gone: Memory = { rss: 0, hwm: 0, anon: 0, file: 0, shmem: 0 };
  const each = await Promise.all(pids.map((p) => memory(p).catch(() => gone)));
  const sum = (k: 'rss' | 'anon' | 'file' | 'shmem'): number => each.reduce((a, m) => a + m[k], 0);
  return { rss: sum('rss'), hwm: Math.max(...each.map((m) => m.hwm)), anon: sum('anon'), file: sum('file'), shmem: sum('shmem'), processes: pids.length };
}

/** The bench process itself (light client + the in-process CDN and token server), all threads. */
export function ownCpuSeconds(): number {
  const { user, system } = process.cpuUsage();
  return (user + system) / 1e6;
}

/** CPU-seconds of this process's reaped children (cutime + cstime): curl clients once they have exited. */
export async function childrenCpuSeconds(): Promise<number> {
  const stat = await readFile('/proc/self/stat', 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[16 - 3]) + Number(fields[17 - 3])) / clockTicks();
}

/** The one process whose command line contains every given word, e.g. a config file path. */
export async function findPid(...words: string[]): Promise<number> {
  const found: number[] = [];
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const cmdline = await readFile(`/proc/${entry}/cmdline`, 'utf8').catch(() => '');
    const argv = cmdline.split('\0');
    if (words.every((w) => argv.includes(w))) found.push(Number(entry));
  }
  if (found.length !== 1) throw new Error(`expected one process with ${words.join(' ')}, found ${found.length}`);
  return found[0] as number;
}

/** Busy CPU-seconds of the whole machine (all cores): user, nice, system, irq, softirq, steal from /proc/stat. */
export async function systemBusySeconds(): Promise<number> {
  const line = (await readFile('/proc/stat', 'utf8')).split('\n', 1)[0] ?? '';
  // cpu  user nice system idle iowait irq softirq steal guest guest_nice (guest time is already in user)
  const [user, nice, system, , , irq, softirq, steal] = line.trim().split(/\s+/).slice(1).map(Number);
  const busy = [user, nice, system, irq, softirq, steal].reduce<number>((sum, v) => sum + (v ?? 0), 0);
  return busy / clockTicks();
}

/**
 * CPU-seconds of several processes at one moment, plus this process (`bench`), its exited child processes
 * (`client`: curl clients, 0 with the in-process client) and the machine (`system`).
 */
export type CpuSnapshot = Map<string, number>;

export async function snapshot(pids: ReadonlyMap<string, number>): Promise<CpuSnapshot> {
  const out: CpuSnapshot = new Map();
  // Whole process trees: a server with worker processes is charged for all of them.
  for (const [name, pid] of pids) out.set(name, await treeCpuSeconds(pid));
  out.set('bench', ownCpuSeconds());
  out.set('client', await childrenCpuSeconds());
  out.set('system', await systemBusySeconds());
  return out;
}

/**
 * Per-name differences; `other` is what the rest of the machine used meanwhile (system busy time minus the
 * measured processes): other programs, and kernel work not charged to a process.
 */
export function cpuDelta(before: CpuSnapshot, after: CpuSnapshot): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [name, value] of after) out[name] = value - (before.get(name) ?? value);
  const measured = Object.entries(out).reduce((sum, [name, value]) => (name === 'system' ? sum : sum + value), 0);
  out['other'] = (out['system'] ?? 0) - measured;
  return out;
}

/**
 * Waits until the machine has been nearly idle (less than `maxCores` busy) for `quietMs` in a row, or until
 * `timeoutMs` has passed; resolves with whether it got quiet. Other programs on a shared machine disturb wall times.
 */
export async function waitForQuiet(opts: { maxCores?: number; quietMs?: number; timeoutMs: number }): Promise<boolean> {
  const maxCores = opts.maxCores ?? 0.15;
  const quietMs = opts.quietMs ?? 2_000;
  const deadline = Date.now() + opts.timeoutMs;
  let quietSince = Date.now();
  let last = await systemBusySeconds();
  let lastAt = performance.now();
  while (Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 500));
    const busy = await systemBusySeconds();
    const at = performance.now();
    const cores = (busy - last) / ((at - lastAt) / 1000);
    [last, lastAt] = [busy, at];
    if (cores > maxCores) quietSince = Date.now();
    else if (Date.now() - quietSince >= quietMs) return true;
  }
  return false;
}
