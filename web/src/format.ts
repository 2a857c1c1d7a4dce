// One way to show sizes, times and rates everywhere: binary units, relative times with the exact time on hover.

const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'];

export function formatBytes(bytes: number): string {
  if (!Number.isFinite(bytes) || bytes < 0) return '–';
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  const digits = unit === 0 || value >= 100 ? 0 : value >= 10 ? 1 : 2;
  return `${value.toFixed(digits)} ${units[unit]}`;
}

/** `1 manifest`, `3 blobs`. */
export const count = (n: number, singular: string, plural = `${singular}s`): string => `${n} ${n === 1 ? singular : plural}`;

export const formatRate = (bytesPerSecond: number): string => `${formatBytes(bytesPerSecond)}/s`;

export function formatPercent(ratio: number | null): string {
  return ratio === null ? '–' : `${(ratio * 100).toFixed(ratio >= 0.995 || ratio === 0 ? 0 : 1)} %`;
}

// Each unit and how many of it make the next one.
const steps: [string, number][] = [
  ['s', 60],
  ['min', 60],
  ['h', 24],
  ['d', 30],
  ['mo', 12],
  ['y', Infinity],
];

/** `just now`, `5 min ago`, `in 3 h`; `now` is injected so a page can tick. */
export function formatRelative(at: number, now: number = Date.now()): string {
  const seconds = Math.round((now - at) / 1000);
  if (Math.abs(seconds) < 5) return 'just now';
  let value = Math.abs(seconds);
  let unit = 's';
  for (const [name, next] of steps) {
    unit = name;
    if (value < next) break;
    value = Math.floor(value / next);
  }
  return seconds >= 0 ? `${value} ${unit} ago` : `in ${value} ${unit}`;
}

export const formatDateTime = (at: number): string => new Date(at).toLocaleString();

export function formatDuration(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(ms < 10_000 ? 1 : 0)} s`;
  const min = Math.floor(ms / 60_000);
  return `${min} min ${Math.round((ms % 60_000) / 1000)} s`;
}

/** The config file's duration syntax (`90s`, `5m`, `1h`) for a number of milliseconds. */
export function durationText(ms: number): string {
  if (ms % 3_600_000 === 0 && ms > 0) return `${ms / 3_600_000}h`;
  if (ms % 60_000 === 0 && ms > 0) return `${ms / 60_000}m`;
  if (ms % 1000 === 0) return `${ms / 1000}s`;
  return `${ms}ms`;
}

/** `sha256:0123456789ab` */
export const shortDigest = (digest: string): string => {
  const colon = digest.indexOf(':');
  return colon === -1 ? digest.slice(0, 19) : digest.slice(0, colon + 13);
};

/** `6 h`, `30 min`, `45 s`: a window of time in its largest whole unit. */
export function formatWindow(seconds: number): string {
  if (seconds % 86_400 === 0) return `${seconds / 86_400} d`;
  if (seconds % 3600 === 0) return `${seconds / 3600} h`;
  if (seconds % 60 === 0) return `${seconds / 60} min`;
  return `${seconds} s`;
}

/** `76 of 100 pulls left per 6 h`: what an upstream's rate limit headers said. */
export function pullsLeft(rl: { limit?: number | undefined; remaining?: number | undefined; windowSeconds?: number | undefined }): string {
  return `${rl.remaining ?? '?'}${rl.limit !== undefined ? ` of ${rl.limit}` : ''} pulls left${rl.windowSeconds ? ` per ${formatWindow(rl.windowSeconds)}` : ''}`;
}
