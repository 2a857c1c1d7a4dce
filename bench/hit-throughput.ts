// Cache-hit throughput of a running server under the load generator (bench/hit-load.ts, a process of its own):
// the server's CPU summed over its process tree (a supervisor and its workers, nginx's master and workers) from
// /proc, the generator's own CPU, and the whole machine's busy time over the same counted window, so a figure
// says what the server itself cost per GB and which share of the machine it got next to the client.
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { spawnChild } from './child.js';
import { TransferError } from './light-client.js';
import { systemBusySeconds, treeCpuSeconds, treeMemory } from './proc-stats.js';

const root = fileURLToPath(new URL('..', import.meta.url));

export interface HitLoadOptions {
  /** The server's top process (its descendants are counted with it). */
  serverPid: number;
  /** `https://127.0.0.1:PORT` */
  url: string;
  path: string;
  /** The blob's size: a response of another size is a failed transfer. */
  size: number;
  caFile: string;
  connections: number;
  /** Worker threads of the generator. */
  threads: number;
  warmupSeconds: number;
  seconds: number;
}

export interface HitRun {
  requests: number;
  bytes: number;
  /** The counted window, seconds. */
  wall: number;
  /** CPU-seconds over the window: the server's processes, the generator, and the rest of the machine. */
  serverCpu: number;
  generatorCpu: number;
  otherCpu: number;
  /** The server's processes, and the highest peak RSS of any one of them, bytes. */
  processes: number;
  hwm: number;
  cores: number;
}

interface Generated {
  requests: number;
  bytes: number;
  errors: number;
  firstError?: string;
  wall: number;
  cpu: number;
}

/**
 * Runs the generator against one cached blob: warm-up, then the counted window, whose start the generator
 * announces (`GO`) so that the server's CPU is read over the same seconds. Throws on any failed transfer.
 */
export async function hitLoad(o: HitLoadOptions): Promise<HitRun> {
  let out = '';
  let before: Promise<[number, number]> | undefined;
  const read = async (): Promise<[number, number]> => [await treeCpuSeconds(o.serverPid), await systemBusySeconds()];
  let after: Promise<[number, number]> | undefined;
  const args = [o.url, o.path, o.size, o.connections, o.threads, o.warmupSeconds, o.seconds, o.caFile].map(String);
  const gen = spawnChild({
    name: 'load generator',
    command: process.execPath,
    args: ['--import', 'tsx', join(root, 'bench', 'hit-load.ts'), ...args],
    cwd: root,
    onLine: (line) => {
      if (line.startsWith('GO ')) before = read();
      if (line.startsWith('{')) [out, after] = [line, read()];
    },
  });
  await gen.exit;
  if (!out || !before || !after) throw new TransferError(`the load generator failed:\n${gen.output().slice(-2000)}`);
  const g = JSON.parse(out) as Generated;
  if (g.errors > 0 || g.requests === 0) throw new TransferError(`${g.errors} failed cache-hit transfers (first: ${g.firstError ?? 'none counted'})`);
  const [[server0, system0], [server1, system1]] = [await before, await after];
  const mem = await treeMemory(o.serverPid);
  const serverCpu = server1 - server0;
  return {
    requests: g.requests,
    bytes: g.bytes,
    wall: g.wall,
    serverCpu,
    generatorCpu: g.cpu,
    otherCpu: Math.max(0, system1 - system0 - serverCpu - g.cpu),
    processes: mem.processes,
    hwm: mem.hwm,
    cores: availableParallelism(),
  };
}

/** Derived figures of one run. */
export const hitFigures = (r: HitRun) => ({
  mbPerSecond: r.bytes / 1e6 / r.wall,
  requestsPerSecond: r.requests / r.wall,
  serverCpuPerGb: r.serverCpu / (r.bytes / 1e9),
  generatorCpuPerGb: r.generatorCpu / (r.bytes / 1e9),
  serverCores: r.serverCpu / r.wall,
  generatorCores: r.generatorCpu / r.wall,
  otherCores: r.otherCpu / r.wall,
  /** The share of the whole machine's CPU time the server got. */
  serverShare: r.serverCpu / (r.wall * r.cores),
});
