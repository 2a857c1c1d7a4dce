// The workers part's tables (bench/workers-scenario.ts): cache hits under load with 1 and N worker processes for
// Pullgate and nginx, ratios within the run, cold pulls through N workers, and its goals with MET/MISSED.
import { hitFigures } from './hit-throughput.js';
import { fixed, MB, median, MiB, table } from './stats.js';
import type { HitRow, WorkersResults, WorkersServer } from './workers-scenario.js';

const serverName: Record<WorkersServer, string> = { mirror: 'Pullgate', nginx: 'nginx proxy_cache' };
const verdict = (ok: boolean | undefined): string => (ok === undefined ? 'n/a' : ok ? 'MET' : 'MISSED');
const finite = (v: number | undefined): number | undefined => (v !== undefined && Number.isFinite(v) ? v : undefined);
const unit = (workers: number): string => (workers === 1 ? 'process' : 'processes');

type Figures = ReturnType<typeof hitFigures>;
const rowsOf = (r: WorkersResults, server: WorkersServer, workers: number): HitRow[] => r.hits.filter((h) => h.server === server && h.workers === workers);

/** The median over the runs of one figure of one server and worker count, as in the rest of the cache report. */
function figure(r: WorkersResults, server: WorkersServer, workers: number, f: (x: Figures) => number): number | undefined {
  const own = rowsOf(r, server, workers);
  return own.length ? finite(median(own.map((h) => f(hitFigures(h.hit))))) : undefined;
}

const ratio = (a: number | undefined, b: number | undefined): number | undefined => (a === undefined || b === undefined ? undefined : finite(a / b));

function hitTable(r: WorkersResults, counts: number[]): string {
  const rows: string[][] = [['server', 'workers', 'MB/s', 'req/s', 'server CPU-s/GB', 'CPU/GB / nginx', 'server cores', 'server share', 'generator cores', 'generator CPU-s/GB', 'other cores', 'peak RSS MB (largest, worst)', 'served by (fewest)', 'upstream GETs (most)']];
  for (const server of ['mirror', 'nginx'] as const) {
    for (const workers of counts) {
      const own = rowsOf(r, server, workers);
      if (own.length === 0) continue;
      const m = (f: (x: Figures) => number, digits: number): string => fixed(figure(r, server, workers, f), digits);
      const cpu = figure(r, server, workers, (x) => x.serverCpuPerGb);
      const servedBy = own.map((h) => h.servedBy).filter((v): v is number => v !== undefined);
      rows.push([
        serverName[server], String(workers), m((x) => x.mbPerSecond, 0), m((x) => x.requestsPerSecond, 0), fixed(cpu, 2), fixed(ratio(cpu, figure(r, 'nginx', workers, (x) => x.serverCpuPerGb)), 2),
        m((x) => x.serverCores, 2), `${m((x) => x.serverShare * 100, 0)} %`, m((x) => x.generatorCores, 2), m((x) => x.generatorCpuPerGb, 2), m((x) => x.otherCores, 2),
        fixed(Math.max(...own.map((h) => h.hit.hwm)) / MB, 1), servedBy.length ? `${Math.min(...servedBy)} of ${workers}` : '-', String(Math.max(...own.map((h) => h.upstreamGets))),
      ]);
    }
  }
  return table(rows);
}

function ratioLines(r: WorkersResults, n: number): string[] {
  const mbs = (server: WorkersServer, workers: number) => figure(r, server, workers, (x) => x.mbPerSecond);
  const cpu = (server: WorkersServer, workers: number) => figure(r, server, workers, (x) => x.serverCpuPerGb);
  const cores = (server: WorkersServer, workers: number) => figure(r, server, workers, (x) => x.serverCores);
  return [
    `throughput with ${n} workers / 1: Pullgate ${fixed(ratio(mbs('mirror', n), mbs('mirror', 1)), 2)}, nginx ${fixed(ratio(mbs('nginx', n), mbs('nginx', 1)), 2)}` +
      ` (server cores busy: Pullgate ${fixed(cores('mirror', 1), 2)} -> ${fixed(cores('mirror', n), 2)}, nginx ${fixed(cores('nginx', 1), 2)} -> ${fixed(cores('nginx', n), 2)})`,
    `Pullgate / nginx CPU-s per GB of hits: with 1 worker ${fixed(ratio(cpu('mirror', 1), cpu('nginx', 1)), 2)}, with ${n} ${fixed(ratio(cpu('mirror', n), cpu('nginx', n)), 2)}`,
    `Pullgate / nginx throughput: with 1 worker ${fixed(ratio(mbs('mirror', 1), mbs('nginx', 1)), 2)}, with ${n} ${fixed(ratio(mbs('mirror', n), mbs('nginx', n)), 2)}`,
  ];
}

/** How much of the machine the servers had: the generator shares it (and on 2 cores takes most of one). */
function shareLine(r: WorkersResults, threads: number): string {
  const all = r.hits.map((h) => hitFigures(h.hit));
  if (all.length === 0) return '';
  const cores = r.hits[0]?.hit.cores ?? 0;
  const gen = median(all.map((f) => f.generatorCores));
  const other = median(all.map((f) => f.otherCores));
  const left = cores - gen - other;
  // A generator thread near a full core cannot ask for more: the servers were not the limit.
  const limit = gen >= 0.85 * threads ? ` The generator kept its ${threads} thread${threads === 1 ? '' : 's'} busy: it, not the servers, set the pace (BENCH_HIT_THREADS).` : '';
  return `machine: ${cores} cores; the generator kept a median ${fixed(gen, 2)} cores busy and other programs ${fixed(other, 2)}, leaving the servers at most ${fixed(left, 2)} cores (${fixed((left / cores) * 100, 0)} % of the machine); "server share" is the share of all ${cores} cores the server used. Read N workers against 1 with that limit in mind: more workers than free cores only add switching.${limit}`;
}

function coldTable(r: WorkersResults): string {
  const rows: string[][] = [['server', 'workers', 'upstream GETs', 'upstream bytes/blob', 'slowest TTFB s', 'median TTFB s', 'total s', 'served by', 'server CPU-s (+bg)', 'peak RSS MB (largest)']];
  for (const server of ['mirror', 'nginx'] as const) {
    const own = r.cold.filter((x) => x.server === server);
    if (own.length === 0) continue;
    const m = (f: (x: (typeof own)[number]) => number | undefined): number => median(own.map(f).filter((v): v is number => v !== undefined));
    rows.push([
      serverName[server], String(r.n), fixed(m((x) => x.fetches.gets), 0), fixed(m((x) => x.fetches.bytes / r.concBlob.size), 2), fixed(m((x) => x.timing.ttfbMs) / 1000, 2),
      fixed(m((x) => median(x.pulls.clients.map((cl) => cl.ttfbMs))) / 1000, 2), fixed(m((x) => x.timing.wallMs) / 1000, 2),
      own[0]?.servedBy === undefined ? '-' : `${Math.min(...own.map((x) => x.servedBy ?? 0))} of ${r.n}`, fixed(m((x) => x.cpuSettled['server']), 2), fixed(m((x) => (x.serverHwm === undefined ? undefined : x.serverHwm / MB)), 1),
    ]);
  }
  return table(rows);
}

function perRunTable(r: WorkersResults): string {
  const rows: string[][] = [['run', 'server', 'workers', 'MB/s', 'server CPU-s/GB', 'server cores', 'generator cores', 'other cores']];
  for (const h of [...r.hits].sort((a, b) => a.run - b.run)) {
    const f = hitFigures(h.hit);
    rows.push([String(h.run), serverName[h.server], String(h.workers), fixed(f.mbPerSecond, 0), fixed(f.serverCpuPerGb, 2), fixed(f.serverCores, 2), fixed(f.generatorCores, 2), fixed(f.otherCores, 2)]);
  }
  return table(rows);
}

export function workersSection(r: WorkersResults, runs: number, o: { connections: number; threads: number; seconds: number }): string[] {
  if (r.hits.length === 0 && r.cold.length === 0) return [];
  const counts = [...new Set([1, r.n])];
  return [
    `6. Workers: cache hits of one ${r.hitBlob.size / MiB} MiB blob over TLS (HTTP/1.1) from ${o.connections} keep-alive connections of a load generator (${o.threads} thread${o.threads === 1 ? '' : 's'}, a process of its own), ${o.seconds} s counted, with ${counts.join(' and ')} worker ${unit(r.n)}; per server and count medians of ${runs} runs`,
    hitTable(r, counts),
    ...ratioLines(r, r.n),
    shareLine(r, o.threads),
    'Per run:',
    perRunTable(r),
    '',
    `7. Workers: ${r.cold[0]?.pulls.clients.length ?? 0} concurrent cold pulls of one ${r.concBlob.size / MiB} MiB blob through ${r.n} worker ${unit(r.n)} (fresh server each run; medians; "served by": workers that answered a client, fewest of the runs)`,
    coldTable(r),
    '',
  ];
}

/** Goal rows for the cache report's Goals table. */
export function workersGoals(r: WorkersResults): string[][] {
  if (r.hits.length === 0 && r.cold.length === 0) return [];
  const cpu = (server: WorkersServer, workers: number): number | undefined => figure(r, server, workers, (x) => x.serverCpuPerGb);
  const hitGoal = (workers: number): string[] => {
    const v = ratio(cpu('mirror', workers), cpu('nginx', workers));
    return [`[load, ${workers} worker ${unit(workers)}] cache-hit CPU-s/GB / nginx <= 1.2`, fixed(v, 2), '<= 1.20', verdict(v === undefined ? undefined : v <= 1.2)];
  };
  const pgCold = r.cold.filter((x) => x.server === 'mirror');
  const gets = pgCold.length ? Math.max(...pgCold.map((x) => x.fetches.gets)) : undefined;
  const slowest = pgCold.length ? median(pgCold.map((x) => x.timing.ttfbMs)) : undefined;
  const hwm = r.hits.filter((h) => h.server === 'mirror').map((h: HitRow) => h.hit.hwm);
  const worstHwm = hwm.length ? Math.max(...hwm) : undefined;
  const coldHwm = pgCold.map((x) => x.serverHwm).filter((v): v is number => v !== undefined);
  const worstColdHwm = coldHwm.length ? Math.max(...coldHwm) : undefined;
  const n = r.cold[0]?.pulls.clients.length ?? 0;
  return [
    ...[...new Set([1, r.n])].map(hitGoal),
    [`${n} concurrent cold through ${r.n} workers: upstream GETs == 1 (worst run)`, fixed(gets, 0), '1', verdict(gets === undefined ? undefined : gets === 1)],
    [`${n} concurrent cold through ${r.n} workers: slowest TTFB < 1 s`, fixed(slowest === undefined ? undefined : slowest / 1000, 2), '< 1.00 s', verdict(slowest === undefined ? undefined : slowest < 1000)],
    [`${n} concurrent cold through ${r.n} workers: peak RSS of any one process (worst run)`, fixed(worstColdHwm === undefined ? undefined : worstColdHwm / MB, 1), '< 150 MB', verdict(worstColdHwm === undefined ? undefined : worstColdHwm < 150 * MB)],
    ['cache-hit load: peak RSS of any one process (worst run)', fixed(worstHwm === undefined ? undefined : worstHwm / MB, 1), '< 150 MB', verdict(worstHwm === undefined ? undefined : worstHwm < 150 * MB)],
  ];
}


/** How the workers part was measured, for the report's notes. */
export function workersHowMeasured(o: { n: number; connections: number; threads: number; seconds: number; warmupSeconds: number }): string[] {
  return [
    `workers part (BENCH_CACHE_PARTS=workers alone): per run and server, a fresh instance with 1 and with N = ${o.n} (BENCH_WORKERS) worker processes: Pullgate \`workers: 1\` (one process) and \`workers: N\` (a supervisor and N workers, connections handed out by node:cluster), nginx \`worker_processes 1\` and N under a master (listen ... reuseport, so the kernel spreads connections); one undici pull fills the cache (sha256-verified), then the load generator (bench/hit-load.ts, node, undici Pool, ${o.connections} connections BENCH_HIT_CONNECTIONS over ${o.threads} thread(s) BENCH_HIT_THREADS) GETs the cached blob back to back: ${o.warmupSeconds} s warm-up (BENCH_HIT_WARMUP_S), ${o.seconds} s counted (BENCH_HIT_SECONDS); every response must be a 200 of the blob's size`,
    'workers part CPU: utime+stime summed over the server\'s process tree (/proc/<pid>/task/*/children: supervisor and workers, nginx master and workers) over the counted window; the generator\'s own CPU (process.cpuUsage, all its threads) over the same window; "other cores": the machine\'s busy time (/proc/stat) minus both; "server share": server CPU-s / (window x cores); peak RSS: the largest VmHWM of one process of the tree; "served by": distinct worker slots in Pullgate\'s access log for that blob',
    `workers cold: BENCH_CONC_CLIENTS curl clients at once on a fresh N-worker instance, as in part 4; upstream GETs from the CDN's log`,
  ];
}
