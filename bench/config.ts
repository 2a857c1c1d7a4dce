// Bench settings from the environment.
import { availableParallelism } from 'node:os';
import { resolve } from 'node:path';
import { memoryEnv, memoryNodeArgs, memorySettingsSwitch } from '../src/cli/memory-settings.js';
import { MiB } from './stats.js';

export interface BenchConfig {
  sizeBytes: number;
  /** The smaller blob pulled through each fresh mirror first, to show its peak RSS does not grow with size. */
  smallBytes: number;
  runs: number;
  paths: ('direct' | 'mirror' | 'proxy')[];
  /** Offer h2 to the mirror and the proxy (docker/containerd would negotiate it). */
  h2: boolean;
  /** Extra node flags for the mirror child, e.g. `--cpu-prof --cpu-prof-dir=/tmp/prof`. */
  mirrorNodeArgs: string[];
  /** The Pullgate tree to build and run (default: this project), e.g. an exported older revision for A/B. */
  mirrorRoot?: string;
  /** A pull during which other programs kept more than `disturbedCores` busy is repeated up to this many times. */
  retryDisturbed: number;
  disturbedCores: number;
  /** BENCH_SCENARIO: `cache` (every server side by side: direct, Pullgate, nginx proxy_cache, docker-registry proxy;
   * the default), `pull` (direct/mirror/proxy with the token dance) and `sni` (the passthrough pipe against a direct
   * connection) run only when named. */
  scenarios: ('pull' | 'cache' | 'sni')[];
  /** BENCH_CLIENT: the client of single pulls; default undici for `pull`, both (undici, then curl) for `cache`. */
  client?: 'undici' | 'curl' | 'both' | undefined;
  /** Cache scenario: the concurrency run's blob, client count, HEAD requests and connections, peers. */
  concBytes: number;
  concClients: number;
  headRequests: number;
  headConnections: number;
  cachePeers: ('mirror' | 'nginx' | 'proxy')[];
  /** BENCH_UPSTREAM_MBPS: the cache scenario's CDN paces each body to this many MB/s (a real link); 0 = unpaced. */
  upstreamBytesPerSecond: number;
  /** BENCH_QUIET_S: how long the cache scenario waits for a quiet machine before each measurement. */
  quietTimeoutMs: number;
  /** BENCH_CACHE_PARTS: the parts of the cache scenario to run (default all). */
  cacheParts: CachePart[];
  /** With the single pulls, cold pulls through the bare Node.js pass-through (BENCH_FLOOR=0 leaves them out). */
  floor: boolean;
  /** The workers part (bench/workers-scenario.ts): N, and the cache-hit load. */
  workers: WorkersConfig;
}

export type CachePart = 'singles' | 'conc' | 'heads' | 'workers';

export interface WorkersConfig {
  /** BENCH_WORKERS: N, the worker processes compared with one (default: the machine's cores). */
  n: number;
  /** BENCH_HIT_SIZE_MB: the cached blob the load generator GETs. */
  hitBytes: number;
  /** BENCH_HIT_CONNECTIONS, BENCH_HIT_THREADS (of the generator), BENCH_HIT_SECONDS, BENCH_HIT_WARMUP_S. */
  connections: number;
  threads: number;
  seconds: number;
  warmupSeconds: number;
}

function positiveInt(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value <= 0) throw new Error(`${name} must be a positive integer, got ${raw}`);
  return value;
}

function nonNegativeInt(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 0) throw new Error(`${name} must be an integer >= 0, got ${raw}`);
  return value;
}

const allPaths = ['direct', 'mirror', 'proxy'] as const;
const allPeers = ['mirror', 'nginx', 'proxy'] as const;

function list<T extends string>(name: string, all: readonly T[], byDefault: readonly T[] = all): T[] {
  const raw = process.env[name];
  const wanted = (raw === undefined || raw === '' ? byDefault.join(',') : raw).split(',').map((p) => p.trim()).filter((p) => p !== '');
  for (const p of wanted) if (!(all as readonly string[]).includes(p)) throw new Error(`${name}: unknown ${p} (use ${all.join(',')})`);
  return all.filter((p) => wanted.includes(p));
}

function clientChoice(): 'undici' | 'curl' | 'both' | undefined {
  const raw = process.env['BENCH_CLIENT'];
  if (raw === undefined || raw === '') return undefined;
  if (raw !== 'undici' && raw !== 'curl' && raw !== 'both') throw new Error(`BENCH_CLIENT must be undici, curl or both, got ${raw}`);
  return raw;
}

function workersConfig(): WorkersConfig {
  const cores = availableParallelism();
  return {
    n: positiveInt('BENCH_WORKERS', cores),
    hitBytes: positiveInt('BENCH_HIT_SIZE_MB', 16) * MiB,
    connections: positiveInt('BENCH_HIT_CONNECTIONS', 32),
    // One generator thread per 4 cores: on 2 cores one thread already takes a core from the servers.
    threads: positiveInt('BENCH_HIT_THREADS', Math.max(1, Math.floor(cores / 4))),
    seconds: positiveInt('BENCH_HIT_SECONDS', 8),
    warmupSeconds: nonNegativeInt('BENCH_HIT_WARMUP_S', 2),
  };
}

export function benchConfig(): BenchConfig {
  const sizeBytes = positiveInt('BENCH_SIZE_MB', 200) * MiB;
  const runs = positiveInt('BENCH_RUNS', 3);
  const paths = (process.env['BENCH_PATHS'] ?? allPaths.join(','))
    .split(',')
    .map((p) => p.trim())
    .filter((p) => p !== '');
  for (const p of paths) if (!(allPaths as readonly string[]).includes(p)) throw new Error(`BENCH_PATHS: unknown path ${p} (use ${allPaths.join(',')})`);
  // 64 MiB against 256 MiB and more; a quarter of smaller sizes, so "small" stays smaller than "large".
  const smallBytes = sizeBytes >= 256 * MiB ? 64 * MiB : Math.max(MiB, Math.floor(sizeBytes / 4 / MiB) * MiB);
  return {
    sizeBytes,
    smallBytes,
    runs,
    paths: allPaths.filter((p) => paths.includes(p)),
    h2: process.env['BENCH_H2'] === '1',
    retryDisturbed: nonNegativeInt('BENCH_RETRY_DISTURBED', 2),
    disturbedCores: 0.15,
    mirrorNodeArgs: mirrorNodeArgs(),
    scenarios: list('BENCH_SCENARIO', ['pull', 'cache', 'sni'] as const, ['cache']),
    ...(clientChoice() ? { client: clientChoice() } : {}),
    concBytes: positiveInt('BENCH_CONC_SIZE_MB', 128) * MiB,
    concClients: positiveInt('BENCH_CONC_CLIENTS', 16),
    headRequests: positiveInt('BENCH_HEAD_N', 2000),
    headConnections: positiveInt('BENCH_HEAD_CONNECTIONS', 4),
    cachePeers: list('BENCH_CACHE_PEERS', allPeers),
    quietTimeoutMs: nonNegativeInt('BENCH_QUIET_S', 5) * 1000,
    floor: process.env['BENCH_FLOOR'] !== '0',
    cacheParts: list('BENCH_CACHE_PARTS', ['singles', 'conc', 'heads', 'workers'] as const),
    workers: workersConfig(),
    upstreamBytesPerSecond: nonNegativeInt('BENCH_UPSTREAM_MBPS', 0) * 1e6,
    ...(process.env['BENCH_MIRROR_ROOT'] ? { mirrorRoot: resolve(process.env['BENCH_MIRROR_ROOT']) } : {}),
  };
}

/**
 * The mirror runs with the memory settings every Pullgate process runs with (src/cli/memory-settings.ts,
 * docs/operating.md#memory), given to it here so that an older tree measured by BENCH_MIRROR_ROOT runs with them too.
 * BENCH_MIRROR_MEMORY=off: without them (and the process does not add them); BENCH_MIRROR_NODE_ARGS and
 * BENCH_MIRROR_ENV (`NAME=value` pairs, space-separated) replace the node flags and add to the environment.
 */
const memoryOff = (): boolean => process.env['BENCH_MIRROR_MEMORY'] === 'off';

/** BENCH_MIRROR_NODE_ARGS: node arguments for the mirror; unset, the memory settings' flags; set but empty, none. */
export function mirrorNodeArgs(): string[] {
  const raw = process.env['BENCH_MIRROR_NODE_ARGS'];
  if (raw === undefined) return memoryOff() ? [] : [...memoryNodeArgs];
  return raw.split(/\s+/).filter((a) => a !== '');
}

/** The mirror's environment: the bench's, the memory settings' (unless off), then BENCH_MIRROR_ENV's pairs. */
export function mirrorEnv(): NodeJS.ProcessEnv {
  const pairs = (process.env['BENCH_MIRROR_ENV'] ?? '').split(/\s+/).filter((p) => p !== '');
  const given = Object.fromEntries(pairs.map((p) => [p.slice(0, p.indexOf('=')), p.slice(p.indexOf('=') + 1)]));
  return { ...process.env, ...(memoryOff() ? { [memorySettingsSwitch]: 'off' } : memoryEnv), ...given };
}

/** How the mirror's process was set up, for the reports. */
export function mirrorSetup(): string {
  const extra = process.env['BENCH_MIRROR_ENV'] ?? '';
  const memory = memoryOff() ? 'without the memory settings' : `memory settings ${Object.entries(memoryEnv).map(([k, v]) => `${k}=${v}`).join(' ')}`;
  return `node flags: ${mirrorNodeArgs().join(' ') || 'none'}; ${memory}${extra ? `; BENCH_MIRROR_ENV: ${extra}` : ''}`;
}
