// The cache scenario's tables: single pulls (cold/warm) per client with ratios against nginx, concurrent cold
// pulls, cached-tag HEAD load, and the goals with MET/MISSED. Medians over runs throughout.
import type { Client, Peer } from './cache-context.js';
import type { CacheResults } from './cache-scenario.js';
import type { PathName, PathRun } from './measure.js';
import { labels } from './report.js';
import { fixed, GB, MB, median, MiB, table } from './stats.js';
import { workersGoals, workersSection } from './workers-report.js';

const med = <T>(items: T[], f: (x: T) => number | undefined): number => {
  const values = items.map(f).filter((v): v is number => v !== undefined && !Number.isNaN(v));
  return values.length ? median(values) : Number.NaN;
};
const peerName: Record<Peer, string> = { mirror: 'Pullgate', nginx: 'nginx proxy_cache', proxy: 'docker-registry proxy' };
const verdict = (ok: boolean | undefined): string => (ok === undefined ? 'n/a' : ok ? 'MET' : 'MISSED');
const finite = (v: number): number | undefined => (Number.isFinite(v) ? v : undefined);
const worst = (values: number[]): number | undefined => finite(values.length ? Math.max(...values) : Number.NaN);
const nginxOf: Partial<Record<PathName, PathName>> = { floor: 'nginx', 'floor-direct': 'nginx', mirror: 'nginx', 'mirror-warm': 'nginx-warm', proxy: 'nginx', 'proxy-warm': 'nginx-warm', nginx: 'nginx', 'nginx-warm': 'nginx-warm' };

/** Medians of one client's single pulls. */
function singles(r: CacheResults, client: Client) {
  const size = r.big.size;
  const pick = (path: PathName): PathRun[] => r.singles.filter((s) => s.path === path && (s.client ?? client) === client);
  const wall = (path: PathName): number => med(pick(path), (s) => s.timing.wallMs);
  /** Server CPU-s per GB from request start until the server is idle again (its background work included). */
  const cpuGb = (path: PathName): number => med(pick(path), (s) => s.cpuSettled['server']) / (size / GB);
  const cpuGbToEnd = (path: PathName): number => med(pick(path), (s) => s.cpu['server']) / (size / GB);
  const hwm = (path: PathName): number => med(pick(path), (s) => s.serverHwm) / MB;
  return { pick, wall, cpuGb, cpuGbToEnd, hwm };
}

function singleTable(r: CacheResults, client: Client): string {
  const size = r.big.size;
  const { pick, wall, cpuGb, cpuGbToEnd, hwm } = singles(r, client);
  const direct = wall('direct');
  const rows: string[][] = [['path', 'wall s', 'MB/s', 'TTFB ms', 'first request TTFB ms', 'wall/direct', 'wall/nginx', 'CPU-s/GB', 'CPU-s/GB (+bg)', 'CPU/GB / nginx', 'peak RSS MB', 'idle RSS MB', 'client CPU-s/GB', 'upstream GETs', 'upstream bytes/blob']];
  for (const path of ['direct', 'mirror', 'floor', 'floor-direct', 'nginx', 'proxy', 'mirror-warm', 'nginx-warm', 'proxy-warm'] as PathName[]) {
    const own = pick(path);
    if (own.length === 0) continue;
    const w = wall(path);
    const isDirect = path === 'direct';
    const ng = nginxOf[path];
    rows.push([
      labels[path],
      fixed(w / 1000, 2),
      fixed(size / MB / (w / 1000), 0),
      fixed(med(own, (s) => s.timing.ttfbMs), 0),
      own.some((s) => s.firstTtfbMs !== undefined) ? fixed(med(own, (s) => s.firstTtfbMs), 0) : '-',
      fixed(w / direct, 2),
      ng === undefined ? '-' : fixed(w / wall(ng), 2),
      isDirect ? '-' : fixed(cpuGbToEnd(path), 2),
      isDirect ? '-' : fixed(cpuGb(path), 2),
      ng === undefined ? '-' : fixed(cpuGb(path) / cpuGb(ng), 2),
      isDirect ? '-' : fixed(hwm(path), 1),
      isDirect ? '-' : fixed(med(own, (s) => s.serverIdleRss) / MB, 1),
      fixed(med(own, (s) => s.cpu[client === 'curl' ? 'client' : 'bench']) / (size / GB), 2),
      fixed(med(own, (s) => s.fetches.gets), 0),
      fixed(med(own, (s) => s.fetches.bytes / size), 2),
    ]);
  }
  return table(rows);
}

/** The per-byte goals for one client: Pullgate's CPU per GB and cold wall time against nginx's in the same run. */
function perByteGoals(r: CacheResults, client: Client): string[][] {
  const { wall, cpuGb } = singles(r, client);
  const ratio = (a: number, b: number): number | undefined => finite(a / b);
  const warm = ratio(cpuGb('mirror-warm'), cpuGb('nginx-warm'));
  const cold = ratio(cpuGb('mirror'), cpuGb('nginx'));
  const coldWall = ratio(wall('mirror'), wall('nginx'));
  const pgWarm = finite(cpuGb('mirror-warm'));
  const pxWarm = finite(cpuGb('proxy-warm'));
  const directRatio = ratio(wall('mirror'), wall('direct'));
  // No goal: how much of the cold cost is the runtime's (the floors') and how much Pullgate's own.
  const floorCold = ratio(cpuGb('floor'), cpuGb('nginx'));
  const directFloorCold = ratio(cpuGb('floor-direct'), cpuGb('nginx'));
  const overFloor = ratio(cpuGb('mirror'), cpuGb('floor-direct'));
  return [
    [`[${client}] cache-hit CPU-s/GB / nginx <= 1.2`, fixed(warm, 2), '<= 1.20', verdict(warm === undefined ? undefined : warm <= 1.2)],
    [`[${client}] cold CPU-s/GB (+bg) / nginx <= 1.3`, fixed(cold, 2), '<= 1.30', verdict(cold === undefined ? undefined : cold <= 1.3)],
    [`[${client}] cold wall / nginx <= 1.10`, fixed(coldWall, 2), '<= 1.10', verdict(coldWall === undefined ? undefined : coldWall <= 1.1)],
    [`[${client}] (no goal) bare Node.js floor, undici: cold CPU-s/GB / nginx`, fixed(floorCold, 2), '-', '-'],
    [`[${client}] (no goal) bare Node.js floor, socket reads: cold CPU-s/GB / nginx`, fixed(directFloorCold, 2), '-', '-'],
    [`[${client}] (no goal) Pullgate cold CPU-s/GB / the socket-reads floor's`, fixed(overFloor, 2), '-', '-'],
    [`[${client}] cold wall / direct <= 1.10`, fixed(directRatio, 2), '<= 1.10', verdict(directRatio === undefined ? undefined : directRatio <= 1.1)],
    [`[${client}] cache-hit CPU-s/GB < docker-registry proxy`, fixed(pgWarm, 3), pxWarm === undefined ? '-' : `< ${fixed(pxWarm, 3)}`, verdict(pgWarm !== undefined && pxWarm !== undefined ? pgWarm < pxWarm : undefined)],
  ];
}

export function cacheReport(r: CacheResults, runs: number, howMeasured: string[], hitOptions: { connections: number; threads: number; seconds: number }): string {
  const size = r.big.size;
  const lines: string[] = [];
  lines.push(`CACHE SCENARIO: medians over ${runs} runs; upstream docker-registry WITHOUT auth for every path (nginx cannot fetch tokens); clients ${r.clients.join(', ')}`);
  lines.push('');
  for (const client of r.singles.length ? r.clients : []) {
    lines.push(`1+2. Single pulls of a ${size / MiB} MiB blob over TLS with ${client === 'curl' ? 'curl' : 'a Node client (undici, hashing)'} (cold = fresh server, warm = the same blob again from it)`);
    lines.push(singleTable(r, client));
    lines.push('');
  }

  const n = r.conc[0]?.pulls.clients.length ?? 0;
  lines.push(`4. ${n} concurrent cold pulls of one ${r.concBlob.size / MiB} MiB blob (fresh server each run)`);
  const conc: string[][] = [['server', 'upstream GETs', 'upstream bytes/blob', 'slowest TTFB s', 'median TTFB s', 'total s', 'total/one cold', 'server CPU-s (+bg)', 'peak RSS MB', 'client CPU-s']];
  const concOf = (peer: Peer): CacheResults['conc'] => r.conc.filter((x) => x.path === `${peer}-conc`);
  // One cold pull of the concurrency blob is not measured separately: the single cold pull scaled by size.
  const coldWall = singles(r, r.clients[0] ?? 'curl').wall;
  const oneCold = (peer: Peer): number => coldWall(peer) * (r.concBlob.size / size);
  for (const peer of ['mirror', 'nginx', 'proxy'] as const) {
    const own = concOf(peer);
    if (own.length === 0) continue;
    conc.push([
      peerName[peer],
      fixed(med(own, (x) => x.fetches.gets), 0),
      fixed(med(own, (x) => x.fetches.bytes / r.concBlob.size), 2),
      fixed(med(own, (x) => x.timing.ttfbMs) / 1000, 2),
      fixed(med(own, (x) => median(x.pulls.clients.map((c) => c.ttfbMs))) / 1000, 2),
      fixed(med(own, (x) => x.timing.wallMs) / 1000, 2),
      fixed(med(own, (x) => x.timing.wallMs) / oneCold(peer), 2),
      fixed(med(own, (x) => x.cpuSettled['server']), 2),
      fixed(med(own, (x) => (x.serverHwm === undefined ? undefined : x.serverHwm / MB)), 1),
      fixed(med(own, (x) => x.cpu['client']), 2),
    ]);
  }
  lines.push(table(conc));
  lines.push('');

  lines.push('5. Cached-tag HEAD manifest requests (library/alpine:3.20), keep-alive');
  const heads: string[][] = [['server', 'requests', 'req/s', 'p50 ms', 'p99 ms', 'errors', 'server CPU-ms/req', 'upstream reg CPU-s']];
  const headOf = (peer: Peer): CacheResults['heads'] => r.heads.filter((h) => h.peer === peer);
  for (const peer of ['mirror', 'nginx', 'proxy'] as const) {
    const own = headOf(peer);
    if (own.length === 0) continue;
    heads.push([peerName[peer], String(own[0]?.load.requests ?? 0), fixed(med(own, (h) => h.load.perSecond), 0), fixed(med(own, (h) => h.load.p50Ms), 2), fixed(med(own, (h) => h.load.p99Ms), 2), String(Math.max(...own.map((h) => h.load.errors))),
      fixed(med(own, (h) => (h.serverCpu / h.load.requests) * 1000), 3), fixed(med(own, (h) => h.upstreamCpu), 2)]);
  }
  lines.push(table(heads));
  lines.push('');

  lines.push(...workersSection(r.workers, runs, hitOptions));

  const pgConc = concOf('mirror');
  const fetches = worst(pgConc.map((x) => x.fetches.gets));
  const slowest = finite(med(pgConc, (x) => x.timing.ttfbMs));
  const concRss = worst(pgConc.map((x) => x.serverHwm ?? Number.NaN));
  const singleRss = worst(r.singles.filter((x) => x.path === 'mirror' || x.path === 'mirror-warm').map((x) => x.serverHwm ?? Number.NaN));
  const pgHead = headOf('mirror');
  const pxHead = headOf('proxy');
  const rps = [med(pgHead, (h) => h.load.perSecond), med(pxHead, (h) => h.load.perSecond)];
  const p99 = [med(pgHead, (h) => h.load.p99Ms), med(pxHead, (h) => h.load.p99Ms)];
  const mb = (v: number | undefined): string => fixed(v === undefined ? undefined : v / MB, 1);
  const goals: string[][] = [
    ['goal', 'Pullgate', 'target', 'verdict'],
    ...r.clients.flatMap((client) => perByteGoals(r, client)),
    ['peak RSS, single pulls (worst run)', mb(singleRss), '< 150 MB', verdict(singleRss === undefined ? undefined : singleRss < 150 * MB)],
    [`${n} concurrent cold: peak RSS (worst run)`, mb(concRss), '< 150 MB', verdict(concRss === undefined ? undefined : concRss < 150 * MB)],
    [`${n} concurrent cold: upstream GETs == 1 (worst run)`, fixed(fetches, 0), '1', verdict(fetches === undefined ? undefined : fetches === 1)],
    [`${n} concurrent cold: slowest TTFB < 1 s`, fixed(slowest === undefined ? undefined : slowest / 1000, 2), '< 1.00 s', verdict(slowest === undefined ? undefined : slowest < 1000)],
    ['HEAD req/s > docker-registry proxy', fixed(rps[0], 0), `> ${fixed(rps[1], 0)}`, verdict(pgHead.length && pxHead.length ? (rps[0] ?? 0) > (rps[1] ?? 0) : undefined)],
    ['HEAD p99 < docker-registry proxy', fixed(p99[0], 2), `< ${fixed(p99[1], 2)} ms`, verdict(pgHead.length && pxHead.length ? (p99[0] ?? 0) < (p99[1] ?? 0) : undefined)],
    ...workersGoals(r.workers),
  ];
  lines.push('Goals:');
  lines.push(table(goals));
  lines.push('');
  lines.push('How the cache scenario was measured:');
  for (const line of howMeasured) lines.push(`  ${line}`);
  lines.push('');
  lines.push('Per run:');
  const raw: string[][] = [['run', 'path', 'client', 'wall s', 'TTFB ms', 'server CPU-s', '+bg', 'upstream reg CPU-s', 'client CPU-s', 'bench CPU-s', 'other CPU-s', 'peak RSS MB', 'GETs', 'upstream MB']];
  for (const x of [...r.singles, ...r.conc].sort((a, b) => a.run - b.run)) {
    raw.push([String(x.run), x.path, x.client ?? '-', fixed(x.timing.wallMs / 1000, 2), fixed(x.timing.ttfbMs, 0), fixed(x.cpu['server'], 2), fixed(x.cpuSettled['server'], 2), fixed(x.cpu['upstream'], 2), fixed(x.cpu['client'], 2), fixed(x.cpu['bench'], 2), fixed(x.cpu['other'], 2), fixed(x.serverHwm === undefined ? undefined : x.serverHwm / MB, 1), String(x.fetches.gets), fixed(x.fetches.bytes / MB, 1)]);
  }
  lines.push(table(raw));
  return lines.join('\n');
}
