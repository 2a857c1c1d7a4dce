// One measured pull: CPU snapshots of the server processes around it, the upstream (CDN) requests it caused,
// and a settle phase for work that goes on after the client's last byte (distribution's background fill).
import { setTimeout as sleep } from 'node:timers/promises';
import type { Cdn } from '../test/support/cdn.js';
import type { PullTiming } from './light-client.js';
import { cpuDelta, snapshot, treeCpuSeconds, treeMemory } from './proc-stats.js';

/** `mirror-warm`: the same blob again from the same mirror right after its cold pull (served from its cache). */
export type PathName = 'direct' | 'mirror' | 'mirror-warm' | 'proxy' | CachePathName;
/**
 * The cache scenario's extra paths (bench/cache-scenario.ts); `*-conc` is the concurrency run (`*-workers-conc` through N
 * workers); `floor` is a bare Node.js pass-through doing a cold pull's work with undici, `floor-direct` the same reading the upstream
 * socket directly (bench/node-floor.ts).
 */
export type CachePathName = 'proxy-warm' | 'floor' | 'floor-direct' | 'nginx' | 'nginx-warm' | 'mirror-conc' | 'nginx-conc' | 'proxy-conc' | 'mirror-workers-conc' | 'nginx-workers-conc';

export interface UpstreamFetches {
  /** Blob GETs that reached the CDN. */
  gets: number;
  heads: number;
  /** Body bytes the CDN sent. */
  bytes: number;
}

export interface PathRun {
  path: PathName;
  run: number;
  timing: PullTiming;
  /** CPU-seconds from request start to the last byte, per process name (`server`, `upstream`, `bench`). */
  cpu: Record<string, number>;
  /** The same from request start until the upstream transfers and the server's CPU have settled. */
  cpuSettled: Record<string, number>;
  fetches: UpstreamFetches;
  /** Peak RSS of the server process after this pull (of its largest process, with workers), bytes. */
  serverHwm?: number;
  /** Mirror only: RSS at idle, and peak RSS after the small pull that preceded this one. */
  mirrorIdleRss?: number;
  mirrorHwmSmall?: number;
  /** The client that pulled (cache scenario: both kinds in one run). */
  client?: 'undici' | 'curl';
  /** RSS of the server process at idle, before its first pull, bytes. */
  serverIdleRss?: number;
  /**
   * Time to first byte of the instance's first request (a cold pull of another, small blob just before this one,
   * bench/cache-scenario.ts): what a freshly started process adds to its first cache miss, ms.
   */
  firstTtfbMs?: number;
  /** How often this pull was repeated because the machine was busy with other programs. */
  retries?: number;
}

/** Cores that programs other than the measured ones kept busy during the pull, on average. */
export const otherCores = (r: PathRun): number => (r.cpu['other'] ?? 0) / (r.timing.wallMs / 1000);

/** Waits until every CDN request since `from` has ended (or its byte count stopped moving for 2 s). */
async function settleCdn(cdn: Cdn, from: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let lastBytes = -1;
  let stableSince = Date.now();
  while (Date.now() < deadline) {
    const records = cdn.requests.slice(from);
    if (records.every((r) => r.completed)) return;
    const bytes = records.reduce((sum, r) => sum + r.bytesSent, 0);
    if (bytes !== lastBytes) {
      lastBytes = bytes;
      stableSince = Date.now();
    } else if (Date.now() - stableSince > 2_000) {
      return;
    }
    await sleep(100);
  }
}

/** Waits until a process (with its worker processes) has used no more CPU for a moment (its background work is done). */
async function settleCpu(pid: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = await treeCpuSeconds(pid);
  while (Date.now() < deadline) {
    await sleep(300);
    const now = await treeCpuSeconds(pid);
    if (now - last < 0.015) return;
    last = now;
  }
}

export interface MeasureOptions {
  path: PathName;
  run: number;
  cdn: Cdn;
  /** Process name -> pid; `server` is the one serving the client (absent for direct). */
  pids: Map<string, number>;
  pull: () => Promise<PullTiming>;
  settleTimeoutMs: number;
}

export async function measurePull(o: MeasureOptions): Promise<PathRun> {
  const from = o.cdn.requests.length;
  const before = await snapshot(o.pids);
  const timing = await o.pull();
  const atEnd = await snapshot(o.pids);
  await settleCdn(o.cdn, from, o.settleTimeoutMs);
  const server = o.pids.get('server');
  if (server !== undefined) await settleCpu(server, 30_000);
  const settled = await snapshot(o.pids);
  const records = o.cdn.requests.slice(from);
  const fetches: UpstreamFetches = {
    gets: records.filter((r) => r.method === 'GET').length,
    heads: records.filter((r) => r.method === 'HEAD').length,
    bytes: records.reduce((sum, r) => sum + r.bytesSent, 0),
  };
  const run: PathRun = { path: o.path, run: o.run, timing, cpu: cpuDelta(before, atEnd), cpuSettled: cpuDelta(before, settled), fetches };
  if (server !== undefined) run.serverHwm = (await treeMemory(server)).hwm;
  return run;
}
