// What the load bench counts per request kind: latencies, outcomes split the way the goal is stated (OCI errors
// vs non-OCI errors vs connection errors), and corrupt bodies, with a few samples of anything that must be zero.

export type Outcome =
  | { kind: 'ok' }
  | { kind: 'oci'; code: string }
  | { kind: 'nonOci'; detail: string }
  | { kind: 'connection'; code: string }
  | { kind: 'corrupt'; detail: string };

const maxSamples = 5;

export class KindStats {
  readonly latencies: number[] = [];
  ok = 0;
  readonly oci = new Map<string, number>();
  readonly connection = new Map<string, number>();
  nonOci = 0;
  corrupt = 0;
  readonly samples: string[] = [];

  record(ms: number, outcome: Outcome): void {
    this.latencies.push(ms);
    switch (outcome.kind) {
      case 'ok':
        this.ok++;
        break;
      case 'oci':
        bump(this.oci, outcome.code);
        break;
      case 'connection':
        bump(this.connection, outcome.code);
        break;
      case 'nonOci':
        this.nonOci++;
        this.sample(`non-OCI: ${outcome.detail}`);
        break;
      case 'corrupt':
        this.corrupt++;
        this.sample(`corrupt: ${outcome.detail}`);
        break;
    }
  }

  get count(): number {
    return this.latencies.length;
  }

  percentile(p: number): number {
    if (this.latencies.length === 0) return Number.NaN;
    const sorted = Float64Array.from(this.latencies).sort();
    return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
  }

  private sample(text: string): void {
    if (this.samples.length < maxSamples) this.samples.push(text);
  }
}

function bump(map: Map<string, number>, key: string): void {
  map.set(key, (map.get(key) ?? 0) + 1);
}

export function total(map: Map<string, number>): number {
  let n = 0;
  for (const v of map.values()) n += v;
  return n;
}

export function formatCounts(map: Map<string, number>): string {
  return map.size === 0 ? '0' : `${total(map)} (${[...map].sort((a, b) => b[1] - a[1]).map(([k, v]) => `${k} ${v}`).join(', ')})`;
}

/** A resource sampled over the run: first, last and max make "flat" (or not) visible at a glance. */
export interface Series {
  at: number[];
  values: number[];
}

export function seriesSummary(s: Series): { first: number; last: number; max: number; min: number } {
  const v = s.values;
  return { first: v[0] ?? Number.NaN, last: v[v.length - 1] ?? Number.NaN, max: Math.max(...v), min: Math.min(...v) };
}
