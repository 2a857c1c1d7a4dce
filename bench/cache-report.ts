// The cache scenario's tables: single pulls (cold/warm), concurrent cold pulls, cached-tag HEAD load, and
// the goals of bench/README.md with MET/MISSED. Medians over runs throughout.
import type { CacheResults, Peer } from './cache-scenario.js';
import type { PathName, PathRun } from './measure.js';
import { labels } from './report.js';
import { fixed, GB, MB, median, MiB, table } from './stats.js';

const med = <T>(items: T[], f: (x: T) => number | undefined): number => {
  const values = items.map(f).filter((v): v is number => v !== undefined && !Number.isNaN(v));
  return values.length ? median(values) : Number.NaN;
};
const peerName: Record<Peer, string> = { mirror: 'Pullgate', nginx: 'nginx proxy_cache', proxy: 'docker-registry proxy' };
const verdict = (ok: boolean | undefined): string => (ok === undefined ? 'n/a' : ok ? 'MET' : 'MISSED');
const finite = (v: number): number | undefined => (Number.isFinite(v) ? v : undefined);
const worst = (values: number[]): number | undefined => finite(values.length ? Math.max(...values) : Number.NaN);

export function cacheReport(r: CacheResults, runs: number, howMeasured: string[]): string {
  const size = r.big.size;
  const pick = (path: PathName): PathRun[] => r.singles.filter((s) => s.path === path);
  const wall = (path: PathName): number => med(pick(path), (s) => s.timing.wallMs);
  const cpuGb = (path: PathName, settled: boolean): number => med(pick(path), (s) => (settled ? s.cpuSettled : s.cpu)['server']) / (size / GB);
  const direct = wall('direct');
  const lines: string[] = [];
  lines.push(`CACHE SCENARIO: medians over ${runs} runs; upstream docker-registry WITHOUT auth for every path (nginx cannot fetch tokens); client ${r.client}`);
  lines.push('');
  lines.push(`1+2. Single pulls of a ${size / MiB} MiB blob over TLS (cold = fresh server, warm = the same blob again from it)`);
  const single: string[][] = [['path', 'wall s', 'MB/s', 'TTFB ms', 'wall/direct', 'server CPU-s (+bg)', 'CPU-s/GB', '(+bg) CPU-s/GB', 'client CPU-s/GB', 'upstream GETs', 'upstream bytes/blob']];
  const order: PathName[] = ['direct', 'mirror', 'nginx', 'proxy', 'mirror-warm', 'nginx-warm', 'proxy-warm'];
  for (const path of order) {
    const own = pick(path);
    if (own.length === 0) continue;
    const w = wall(path);
    const isDirect = path === 'direct';
    single.push([
      labels[path],
      fixed(w / 1000, 2),
      fixed(size / MB / (w / 1000), 0),
      fixed(med(own, (s) => s.timing.ttfbMs), 0),
      fixed(w / direct, 2),
      isDirect ? '-' : fixed(med(own, (s) => s.cpuSettled['server']), 2),
      isDirect ? '-' : fixed(cpuGb(path, false), 2),
      isDirect ? '-' : fixed(cpuGb(path, true), 2),
      fixed(med(own, (s) => s.cpu[r.client === 'curl' ? 'client' : 'bench']) / (size / GB), 2),
      fixed(med(own, (s) => s.fetches.gets), 0),
      fixed(med(own, (s) => s.fetches.bytes / size), 2),
    ]);
  }
  lines.push(table(single));
  lines.push('');

  const n = r.conc[0]?.pulls.clients.length ?? 0;
  lines.push(`4. ${n} concurrent cold pulls of one ${r.concBlob.size / MiB} MiB blob (fresh server each run)`);
  const conc: string[][] = [['server', 'upstream GETs', 'upstream bytes/blob', 'slowest TTFB s', 'median TTFB s', 'total s', 'total/one cold', 'server CPU-s (+bg)', 'peak RSS MB', 'client CPU-s']];
  const concOf = (peer: Peer): CacheResults['conc'] => r.conc.filter((x) => x.path === `${peer}-conc`);
  // One cold pull of the concurrency blob is not measured separately: the single cold pull scaled by size.
  const oneCold = (peer: Peer): number => wall(peer) * (r.concBlob.size / size);
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

  const pgWarm = finite(cpuGb('mirror-warm', false));
  const ngWarm = finite(cpuGb('nginx-warm', false));
  const pxWarm = finite(cpuGb('proxy-warm', false));
  const coldRatio = finite(wall('mirror') / direct);
  const pgConc = concOf('mirror');
  const fetches = worst(pgConc.map((x) => x.fetches.gets));
  const slowest = finite(med(pgConc, (x) => x.timing.ttfbMs));
  const rss = worst(pgConc.map((x) => x.serverHwm ?? Number.NaN));
  const pgHead = headOf('mirror');
  const pxHead = headOf('proxy');
  const rps = [med(pgHead, (h) => h.load.perSecond), med(pxHead, (h) => h.load.perSecond)];
  const p99 = [med(pgHead, (h) => h.load.p99Ms), med(pxHead, (h) => h.load.p99Ms)];
  const both = <T>(a: T | undefined, b: T | undefined): boolean => a !== undefined && b !== undefined;
  const goals: string[][] = [
    ['goal (bench/README.md)', 'Pullgate', 'target', 'verdict'],
    ['warm CPU-s/GB <= 1.2x nginx', fixed(pgWarm, 3), ngWarm === undefined ? '-' : `<= ${fixed(ngWarm * 1.2, 3)}`, verdict(both(pgWarm, ngWarm) ? (pgWarm ?? 0) <= (ngWarm ?? 0) * 1.2 : undefined)],
    ['warm CPU-s/GB < docker-registry proxy', fixed(pgWarm, 3), pxWarm === undefined ? '-' : `< ${fixed(pxWarm, 3)}`, verdict(both(pgWarm, pxWarm) ? (pgWarm ?? 0) < (pxWarm ?? 0) : undefined)],
    ['cold wall / direct <= 1.10', fixed(coldRatio, 2), '<= 1.10', verdict(coldRatio === undefined ? undefined : coldRatio <= 1.1)],
    [`${n} concurrent cold: upstream GETs == 1 (worst run)`, fixed(fetches, 0), '1', verdict(fetches === undefined ? undefined : fetches === 1)],
    [`${n} concurrent cold: slowest TTFB < 1 s`, fixed(slowest === undefined ? undefined : slowest / 1000, 2), '< 1.00 s', verdict(slowest === undefined ? undefined : slowest < 1000)],
    [`${n} concurrent cold: peak RSS < 200 MB (worst run)`, fixed(rss === undefined ? undefined : rss / MB, 1), '< 200 MB', verdict(rss === undefined ? undefined : rss < 200 * MB)],
    ['HEAD req/s > docker-registry proxy (no number in issue)', fixed(rps[0], 0), `> ${fixed(rps[1], 0)}`, verdict(pgHead.length && pxHead.length ? (rps[0] ?? 0) > (rps[1] ?? 0) : undefined)],
    ['HEAD p99 < docker-registry proxy (no number in issue)', fixed(p99[0], 2), `< ${fixed(p99[1], 2)} ms`, verdict(pgHead.length && pxHead.length ? (p99[0] ?? 0) < (p99[1] ?? 0) : undefined)],
  ];
  lines.push('Goals:');
  lines.push(table(goals));
  lines.push('');
  lines.push('How the cache scenario was measured:');
  for (const line of howMeasured) lines.push(`  ${line}`);
  lines.push('');
  lines.push('Per run:');
  const raw: string[][] = [['run', 'path', 'wall s', 'TTFB ms', 'server CPU-s', '+bg', 'upstream reg CPU-s', 'client CPU-s', 'bench CPU-s', 'other CPU-s', 'peak RSS MB', 'GETs', 'upstream MB']];
  for (const x of [...r.singles, ...r.conc].sort((a, b) => a.run - b.run)) {
    raw.push([String(x.run), x.path, fixed(x.timing.wallMs / 1000, 2), fixed(x.timing.ttfbMs, 0), fixed(x.cpu['server'], 2), fixed(x.cpuSettled['server'], 2), fixed(x.cpu['upstream'], 2), fixed(x.cpu['client'], 2), fixed(x.cpu['bench'], 2), fixed(x.cpu['other'], 2), fixed(x.serverHwm === undefined ? undefined : x.serverHwm / MB, 1), String(x.fetches.gets), fixed(x.fetches.bytes / MB, 1)]);
  }
  lines.push(table(raw));
  return lines.join('\n');
}
