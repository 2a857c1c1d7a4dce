// The printed result: medians per path, ratios to direct, the mirror's memory, the goals, and the raw runs.
import { cpus } from 'node:os';
import { otherCores, type PathName, type PathRun } from './measure.js';
import { fixed, GB, MB, median, MiB, table } from './stats.js';

export interface ReportInput {
  sizeBytes: number;
  smallBytes: number;
  runs: PathRun[];
  paths: PathName[];
  howMeasured: string[];
  disturbedCores: number;
}

export const goals = {
  /** mirror wall time / direct wall time, medians. */
  wallRatio: 1.1,
  /** Mirror peak RSS, bytes. */
  peakRss: 150 * MB,
  /** "Flat": the peak after the large pull exceeds the peak after the small pull by less than this. */
  flatSlack: 16 * MB,
};

export const labels: Record<PathName, string> = {
  direct: 'direct (upstream+CDN)',
  mirror: 'via Pullgate mirror (cold)',
  'mirror-warm': 'via Pullgate mirror (warm)',
  floor: 'bare Node.js pass-through, undici (floor)',
  'floor-direct': 'bare Node.js pass-through, socket reads (floor)',
  proxy: 'via docker-registry proxy (cold)',
  'proxy-warm': 'via docker-registry proxy (warm)',
  nginx: 'via nginx proxy_cache (cold)',
  'nginx-warm': 'via nginx proxy_cache (warm)',
  'mirror-conc': 'Pullgate, concurrent cold',
  'nginx-conc': 'nginx proxy_cache, concurrent cold',
  'proxy-conc': 'docker-registry proxy, concurrent cold',
  'mirror-workers-conc': 'Pullgate, N workers, concurrent cold',
  'nginx-workers-conc': 'nginx proxy_cache, N workers, concurrent cold',
};

const perGb = (cpu: number, bytes: number): number => cpu / (bytes / GB);

export interface Summary {
  wallRatio?: number;
  mirrorHwm?: number;
  mirrorHwmSmall?: number;
}

function pick(runs: PathRun[], path: PathName): PathRun[] {
  return runs.filter((r) => r.path === path);
}

export function report(input: ReportInput): { text: string; summary: Summary } {
  const { runs, sizeBytes } = input;
  const wall = (path: PathName): number => median(pick(runs, path).map((r) => r.timing.wallMs));
  const direct = wall('direct');
  const header = [
    'path',
    'wall s',
    'MB/s',
    'TTFB ms',
    'wall/direct',
    'server CPU-s/GB',
    '(+bg, settled)',
    'upstream reg CPU-s/GB',
    'bench proc CPU-s/GB',
    'server peak RSS MB',
    'upstream GETs',
    'upstream bytes/blob',
  ];
  const rows: string[][] = [header];
  for (const path of ['direct', 'mirror', 'mirror-warm', 'proxy'] as const) {
    const own = pick(runs, path);
    if (own.length === 0) continue;
    const m = (f: (r: PathRun) => number | undefined): number => {
      const values = own.map(f).filter((v): v is number => v !== undefined);
      return values.length ? median(values) : Number.NaN;
    };
    const w = m((r) => r.timing.wallMs);
    rows.push([
      labels[path],
      fixed(w / 1000, 2),
      fixed(sizeBytes / MB / (w / 1000), 0),
      fixed(m((r) => r.timing.ttfbMs), 0),
      path === 'direct' ? '1.00' : fixed(w / direct, 2),
      path === 'direct' ? '-' : fixed(m((r) => (r.cpu['server'] === undefined ? undefined : perGb(r.cpu['server'], sizeBytes))), 2),
      path === 'direct' ? '-' : fixed(m((r) => (r.cpuSettled['server'] === undefined ? undefined : perGb(r.cpuSettled['server'], sizeBytes))), 2),
      fixed(m((r) => perGb(r.cpu['upstream'] ?? Number.NaN, sizeBytes)), 3),
      fixed(m((r) => perGb(r.cpu['bench'] ?? Number.NaN, sizeBytes)), 2),
      path === 'direct' ? '-' : fixed(m((r) => (r.serverHwm === undefined ? undefined : r.serverHwm / MB)), 1),
      fixed(m((r) => r.fetches.gets), 0),
      fixed(m((r) => r.fetches.bytes / sizeBytes), 2),
    ]);
  }

  const mirror = pick(runs, 'mirror');
  const summary: Summary = {};
  const lines: string[] = [];
  lines.push(`Medians over ${Math.max(...input.paths.map((p) => pick(runs, p).length))} runs (one pull per path and run), ${(sizeBytes / MiB).toFixed(0)} MiB blob (${(sizeBytes / MB).toFixed(1)} MB); MB = 10^6 bytes, GB = 10^9 bytes`);
  lines.push('');
  lines.push(table(rows));
  lines.push('');
  if (mirror.length > 0) {
    const idle = median(mirror.map((r) => r.mirrorIdleRss ?? Number.NaN));
    const small = median(mirror.map((r) => r.mirrorHwmSmall ?? Number.NaN));
    const large = median(mirror.map((r) => r.serverHwm ?? Number.NaN));
    summary.mirrorHwm = Math.max(...[...mirror, ...pick(runs, 'mirror-warm')].map((r) => r.serverHwm ?? 0));
    summary.mirrorHwmSmall = small;
    lines.push(
      `Mirror memory (medians): RSS at idle ${fixed(idle / MB, 1)} MB; peak RSS (VmHWM) after a ${(input.smallBytes / MiB).toFixed(0)} MiB pull ` +
        `${fixed(small / MB, 1)} MB, after the ${(sizeBytes / MiB).toFixed(0)} MiB pull ${fixed(large / MB, 1)} MB (growth ${fixed((large - small) / MB, 1)} MB)`,
    );
  }
  if (mirror.length > 0) {
    const cpuPerGb = median(mirror.map((r) => perGb(r.cpu['server'] ?? Number.NaN, sizeBytes)));
    const benchPerGb = median(pick(runs, 'direct').map((r) => perGb(r.cpu['bench'] ?? Number.NaN, sizeBytes)));
    lines.push(
      `Mirror CPU: ${fixed(cpuPerGb, 2)} CPU-s/GB, i.e. one pull could reach at most ~${fixed(1000 / cpuPerGb, 0)} MB/s on one core of this machine; ` +
        `the bench process (client + CDN) needs ${fixed(benchPerGb, 2)} CPU-s/GB by itself, all on ${cpus().length} cores shared`,
    );
  }
  if (direct > 0 && mirror.length > 0) summary.wallRatio = wall('mirror') / direct;
  const proxyRatio = pick(runs, 'proxy').length > 0 && direct > 0 ? wall('proxy') / direct : undefined;

  lines.push('');
  lines.push('Goals:');
  const verdict = (ok: boolean | undefined): string => (ok === undefined ? 'n/a' : ok ? 'MET' : 'MISSED');
  lines.push(
    `  mirror/direct wall-time ratio <= ${goals.wallRatio.toFixed(2)}: ${fixed(summary.wallRatio, 2)}  ${verdict(summary.wallRatio === undefined ? undefined : summary.wallRatio <= goals.wallRatio)}` +
      (proxyRatio === undefined ? '' : `   (for comparison, proxy/direct: ${fixed(proxyRatio, 2)})`),
  );
  const hwm = summary.mirrorHwm;
  lines.push(`  mirror peak RSS < ${goals.peakRss / MB} MB (max over runs, cold and warm): ${fixed(hwm === undefined ? undefined : hwm / MB, 1)} MB  ${verdict(hwm === undefined ? undefined : hwm < goals.peakRss)}`);
  const growths = mirror.map((r) => (r.serverHwm ?? Number.NaN) - (r.mirrorHwmSmall ?? Number.NaN));
  const growth = growths.length ? Math.max(...growths) : undefined;
  lines.push(
    `  mirror peak RSS flat in blob size (${(input.smallBytes / MiB).toFixed(0)} MiB -> ${(sizeBytes / MiB).toFixed(0)} MiB grows < ${goals.flatSlack / MB} MB, worst run): ` +
      `${fixed(growth === undefined ? undefined : growth / MB, 1)} MB  ${verdict(growth === undefined || Number.isNaN(growth) ? undefined : growth < goals.flatSlack)}`,
  );

  const busiest = Math.max(...runs.map(otherCores));
  if (busiest > input.disturbedCores) {
    lines.push('');
    lines.push(
      `WARNING: the machine was not quiet: besides the measured processes, up to ${fixed(busiest, 2)} cores were busy during a pull ` +
        `("other CPU-s" per run below: other programs or unattributed kernel work); wall times and ratios are disturbed.`,
    );
  }
  lines.push('');
  lines.push('How it was measured:');
  for (const line of input.howMeasured) lines.push(`  ${line}`);

  lines.push('');
  lines.push('Per run (in the order run):');
  const raw: string[][] = [['run', 'path', 'wall s', 'TTFB ms', 'wall/direct', 'server CPU-s', '+bg', 'upstream reg CPU-s', 'bench CPU-s', 'client CPU-s', 'other CPU-s', 'retries', 'server peak RSS MB', 'GETs', 'HEADs', 'upstream MB']];
  for (const r of runs) {
    const sameRunDirect = runs.find((d) => d.path === 'direct' && d.run === r.run);
    raw.push([
      String(r.run),
      r.path,
      fixed(r.timing.wallMs / 1000, 2),
      fixed(r.timing.ttfbMs, 0),
      sameRunDirect ? fixed(r.timing.wallMs / sameRunDirect.timing.wallMs, 2) : '-',
      fixed(r.cpu['server'], 2),
      fixed(r.cpuSettled['server'], 2),
      fixed(r.cpu['upstream'], 2),
      fixed(r.cpu['bench'], 2),
      fixed(r.cpu['client'], 2),
      fixed(r.cpu['other'], 2),
      String(r.retries ?? 0),
      fixed(r.serverHwm === undefined ? undefined : r.serverHwm / MB, 1),
      String(r.fetches.gets),
      String(r.fetches.heads),
      fixed(r.fetches.bytes / MB, 1),
    ]);
  }
  lines.push(table(raw));
  return { text: lines.join('\n'), summary };
}
