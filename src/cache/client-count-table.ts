// Rows of per-client state (login attempts, request-rate buckets) shared by the worker processes of one machine, in
// the data directory's workers.db (docs/workers.md; the limiters on top: workers/shared-client-counts.ts). Each
// check loads the client's rows, runs the rule and writes them back in one IMMEDIATE transaction.
import type Database from 'better-sqlite3';
import { openWorkersDb } from './workers-db.js';

/** How often rows that no longer count are deleted. */
const pruneEveryMs = 60_000;
/** Rows kept at most, as the limiters keep in memory with one process: the least recently written go first. */
const maxRows = 100_000;

/** Rows of per-client state (`kind`: the rule, `key`: the client), as JSON, in workers.db. */
export class ClientCountTable {
  private readonly db: Database.Database;
  private readonly q;
  /** When each kind's old rows were last deleted. */
  private readonly prunedAt = new Map<string, number>();

  constructor(
    dataDir: string,
    private readonly clock: () => number = Date.now,
  ) {
    this.db = openWorkersDb(dataDir);
    this.db.exec('CREATE TABLE IF NOT EXISTS client_counts (kind TEXT NOT NULL, key TEXT NOT NULL, value TEXT NOT NULL, at INTEGER NOT NULL, PRIMARY KEY (kind, key))');
    this.q = {
      get: this.db.prepare<[string, string], { value: string }>('SELECT value FROM client_counts WHERE kind = ? AND key = ?'),
      put: this.db.prepare<[string, string, string, number]>('INSERT INTO client_counts (kind, key, value, at) VALUES (?, ?, ?, ?) ON CONFLICT (kind, key) DO UPDATE SET value = excluded.value, at = excluded.at'),
      delete: this.db.prepare<[string, string]>('DELETE FROM client_counts WHERE kind = ? AND key = ?'),
      prune: this.db.prepare<[string, number]>('DELETE FROM client_counts WHERE kind = ? AND at < ?'),
      cap: this.db.prepare<[number]>(
        'DELETE FROM client_counts WHERE rowid IN (SELECT rowid FROM client_counts ORDER BY at LIMIT max(0, (SELECT count(*) FROM client_counts) - ?))',
      ),
    };
  }

  /**
   * Runs `rule` on `map` holding the stored state of `keys`, and stores what it left for them, in one transaction.
   * Rows of `kind` not written for `forgetAfterMs` count no more (a bucket refilled, a login window passed).
   */
  around<T, R>(kind: string, forgetAfterMs: number, keys: string[], map: Map<string, T>, rule: () => R): R {
    return this.db
      .transaction((): R => {
        for (const key of keys) {
          const row = this.q.get.get(kind, key);
          if (row) map.set(key, JSON.parse(row.value) as T);
          else map.delete(key);
        }
        const result = rule();
        const now = this.clock();
        for (const key of keys) {
          const value = map.get(key);
          if (value === undefined) this.q.delete.run(kind, key);
          else this.q.put.run(kind, key, JSON.stringify(value), now);
        }
        if (now - (this.prunedAt.get(kind) ?? 0) > pruneEveryMs) {
          this.prunedAt.set(kind, now);
          this.q.prune.run(kind, now - forgetAfterMs);
          this.q.cap.run(maxRows);
        }
        return result;
      })
      .immediate();
  }

  /** Rows stored now (tests). */
  get rows(): number {
    return (this.db.prepare('SELECT count(*) AS n FROM client_counts').get() as { n: number }).n;
  }

  close(): void {
    this.db.close();
  }
}

