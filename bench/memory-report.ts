// What bench/memory-probe.mjs prints from inside a server process, collected and explained: RSS split into the JS
// heap V8 holds, buffers outside it (external, of which arrayBuffers are Buffers and ArrayBuffers), and the rest
// (native: code, TLS and HTTP/2 sessions, SQLite's page cache, the allocator's free lists).
import { fileURLToPath } from 'node:url';

export interface MemorySample {
  at: number;
  rss: number;
  heapTotal: number;
  heapUsed: number;
  external: number;
  arrayBuffers: number;
  /** V8's heap spaces: committed size and live bytes. */
  spaces: Record<string, { size: number; used: number }>;
}

/** `node` arguments that load the probe into a process. */
export function memoryProbeArgs(): string[] {
  return ['--import', fileURLToPath(new URL('./memory-probe.mjs', import.meta.url))];
}

export class MemorySamples {
  readonly all: MemorySample[] = [];
  /** Samples since the last mark() (the measured window). */
  private from = 0;

  /** Takes a line of the server's output; true when it was a probe line. */
  onLine(line: string): boolean {
    if (!line.startsWith('{"memoryProbe"')) return false;
    this.all.push((JSON.parse(line) as { memoryProbe: MemorySample }).memoryProbe);
    return true;
  }

  mark(): void {
    this.from = this.all.length;
  }

  latest(): MemorySample | undefined {
    return this.all[this.all.length - 1];
  }

  window(): MemorySample[] {
    return this.all.slice(this.from);
  }

  /** The sample with the highest RSS in the measured window, and each component's own maximum there. */
  peak(): { atPeak: MemorySample | undefined; max: Omit<MemorySample, 'at' | 'spaces'> & { other: number } } {
    const w = this.window();
    const atPeak = w.reduce<MemorySample | undefined>((best, s) => (best === undefined || s.rss > best.rss ? s : best), undefined);
    const maxOf = (f: (s: MemorySample) => number): number => w.reduce((m, s) => Math.max(m, f(s)), 0);
    return {
      atPeak,
      max: {
        rss: maxOf((s) => s.rss),
        heapTotal: maxOf((s) => s.heapTotal),
        heapUsed: maxOf((s) => s.heapUsed),
        external: maxOf((s) => s.external),
        arrayBuffers: maxOf((s) => s.arrayBuffers),
        other: maxOf(other),
      },
    };
  }
}

/** RSS that is neither V8's heap nor external memory V8 knows of. */
export const other = (s: MemorySample): number => Math.max(0, s.rss - s.heapTotal - s.external);

const mib = (b: number): string => (b / 1024 / 1024).toFixed(1);

/** One line: `rss R = V8 heap T (used U; young, old, large objects) + external E (buffers B) + other O`, MiB. */
export function describe(s: MemorySample | undefined): string {
  if (s === undefined) return 'no probe sample';
  const space = (name: string): string => {
    const v = s.spaces[name];
    return v === undefined ? '0' : `${mib(v.size)}/${mib(v.used)}`;
  };
  return (
    `rss ${mib(s.rss)} = V8 heap ${mib(s.heapTotal)} (used ${mib(s.heapUsed)}; committed/live: young ${space('new_space')}, old ${space('old_space')}, ` +
    `large objects ${space('large_object_space')}) + external ${mib(s.external)} (buffers ${mib(s.arrayBuffers)}) + other (native) ${mib(other(s))} MiB`
  );
}

/** Report lines for a run: idle after start, the peak, each component's maximum, and the end. */
export function memoryLines(samples: MemorySamples, idle: MemorySample | undefined, end: MemorySample | undefined): string[] {
  const { atPeak, max } = samples.peak();
  return [
    `mirror memory idle after start: ${describe(idle)}`,
    `mirror memory at peak RSS: ${describe(atPeak)}`,
    `mirror memory maxima over the run (MiB): rss ${mib(max.rss)}, V8 heap ${mib(max.heapTotal)} (used ${mib(max.heapUsed)}), external ${mib(max.external)}, buffers ${mib(max.arrayBuffers)}, other ${mib(max.other)}`,
    `mirror memory at the end: ${describe(end)}`,
  ];
}
