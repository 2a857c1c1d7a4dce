// A counter for the hot path: each series is a plain object whose number the caller adds to (kept by the caller,
// so a fill's batches cost an addition), and prom-client reads the numbers only when /metrics is scraped.
// prom-client's own label children hash their labels on every inc(), which is what this avoids.
import { Counter } from 'prom-client';
import type { Registry } from 'prom-client';

export interface TallyRow {
  value: number;
}

export class Tally<L extends string> {
  private readonly rows = new Map<string, TallyRow & { labels: Record<L, string> }>();

  constructor(name: string, help: string, labelNames: readonly L[], registry: Registry) {
    const rows = this.rows;
    new Counter<L>({
      name,
      help,
      labelNames,
      registers: [registry],
      collect() {
        this.reset();
        for (const row of rows.values()) this.inc(row.labels as never, row.value);
      },
    });
  }

  /** The series for `labels`, made on first use; `key` must identify the labels (callers join them). */
  row(key: string, labels: Record<L, string>): TallyRow {
    let row = this.rows.get(key);
    if (!row) {
      row = { labels, value: 0 };
      this.rows.set(key, row);
    }
    return row;
  }
}
