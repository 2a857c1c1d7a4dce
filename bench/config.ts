// Bench settings from the environment.
import { resolve } from 'node:path';
import type { PathName } from './measure.js';
import { MiB } from './stats.js';

export interface BenchConfig {
  sizeBytes: number;
  /** The smaller blob pulled through each fresh mirror first, to show its peak RSS does not grow with size. */
  smallBytes: number;
  runs: number;
  paths: PathName[];
  /** Offer h2 to the mirror and the proxy (docker/containerd would negotiate it). */
  h2: boolean;
  /** Extra node flags for the mirror child, e.g. `--cpu-prof --cpu-prof-dir=/tmp/prof`. */
  mirrorNodeArgs: string[];
  /** The Pullgate tree to build and run (default: this project), e.g. an exported older revision for A/B. */
  mirrorRoot?: string;
}

function positiveInt(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value <= 0) throw new Error(`${name} must be a positive integer, got ${raw}`);
  return value;
}

const allPaths: PathName[] = ['direct', 'mirror', 'proxy'];

export function benchConfig(): BenchConfig {
  const sizeBytes = positiveInt('BENCH_SIZE_MB', 1024) * MiB;
  const runs = positiveInt('BENCH_RUNS', 3);
  const paths = (process.env['BENCH_PATHS'] ?? allPaths.join(','))
    .split(',')
    .map((p) => p.trim())
    .filter((p) => p !== '');
  for (const p of paths) if (!allPaths.includes(p as PathName)) throw new Error(`BENCH_PATHS: unknown path ${p} (use ${allPaths.join(',')})`);
  // 64 MiB against the default 1 GiB; a quarter of smaller sizes, so "small" stays smaller than "large".
  const smallBytes = sizeBytes >= 256 * MiB ? 64 * MiB : Math.max(MiB, Math.floor(sizeBytes / 4 / MiB) * MiB);
  return {
    sizeBytes,
    smallBytes,
    runs,
    paths: allPaths.filter((p) => paths.includes(p)),
    h2: process.env['BENCH_H2'] === '1',
    mirrorNodeArgs: (process.env['BENCH_MIRROR_NODE_ARGS'] ?? '').split(/\s+/).filter((a) => a !== ''),
    ...(process.env['BENCH_MIRROR_ROOT'] ? { mirrorRoot: resolve(process.env['BENCH_MIRROR_ROOT']) } : {}),
  };
}
