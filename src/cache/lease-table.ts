// The lease rows of the worker processes of one machine (docs/workers.md), in a small SQLite file of the data
// directory (`workers.db`, apart from the cache index: leases churn and are worth nothing after a restart). The
// protocol on top (claims, renewals, take-overs) is workers/local-leases.ts; this file only keeps the rows. A claim
// is one IMMEDIATE transaction, so of racing workers exactly one writes the row.
import type Database from 'better-sqlite3';
import { openWorkersDb } from './workers-db.js';

export interface LeaseRow {
  owner: string;
  replica: string;
  incarnation: string;
  pid: number;
  expires_at: number;
  about: string | null;
  token: string;
}

export class LeaseTable {
  private readonly db: Database.Database;
  private readonly q;

  constructor(dataDir: string) {
    this.db = openWorkersDb(dataDir);
    this.db.exec(`CREATE TABLE IF NOT EXISTS leases (
      name TEXT PRIMARY KEY, owner TEXT NOT NULL, replica TEXT NOT NULL, incarnation TEXT NOT NULL,
      pid INTEGER NOT NULL, expires_at INTEGER NOT NULL, about TEXT, token TEXT NOT NULL)`);
    this.q = {
      get: this.db.prepare<[string], LeaseRow>('SELECT * FROM leases WHERE name = ?'),
      put: this.db.prepare<[string, string, string, string, number, number, string | null, string]>(
        `INSERT INTO leases (name, owner, replica, incarnation, pid, expires_at, about, token) VALUES (?, ?, ?, ?, ?, ?, ?, ?)
         ON CONFLICT (name) DO UPDATE SET owner = excluded.owner, replica = excluded.replica, incarnation = excluded.incarnation,
           pid = excluded.pid, expires_at = excluded.expires_at, about = excluded.about, token = excluded.token`,
      ),
      renew: this.db.prepare<[number, string, string]>('UPDATE leases SET expires_at = ? WHERE name = ? AND token = ?'),
      release: this.db.prepare<[string, string]>('DELETE FROM leases WHERE name = ? AND token = ?'),
      prune: this.db.prepare<[number]>('DELETE FROM leases WHERE expires_at < ?'),
      count: this.db.prepare<[number, string, number], { n: number }>('SELECT count(*) AS n FROM leases WHERE substr(name, 1, ?) = ? AND expires_at > ?'),
    };
  }

  /**
   * Writes `row` as the lease `name` unless `held` says its current row still holds it, in one IMMEDIATE
   * transaction: the current holder when it does, else the row replaced (if any).
   */
  claim(name: string, row: LeaseRow, held: (current: LeaseRow) => boolean): { previous?: LeaseRow; holder?: LeaseRow } {
    return this.db
      .transaction((): { previous?: LeaseRow; holder?: LeaseRow } => {
        const current = this.q.get.get(name);
        if (current && held(current)) return { holder: current };
        this.q.put.run(name, row.owner, row.replica, row.incarnation, row.pid, row.expires_at, row.about, row.token);
        return current ? { previous: current } : {};
      })
      .immediate();
  }

  /** The row of the lease `name`, held or not. */
  get(name: string): LeaseRow | undefined {
    return this.q.get.get(name);
  }

  /** Leases whose name starts with `prefix` and that have not expired at `now`. */
  count(prefix: string, now: number): number {
    return this.q.count.get(prefix.length, prefix, now)?.n ?? 0;
  }

  /** Extends the lease `name` while `token` still holds it: whether it did. */
  renew(name: string, token: string, expiresAt: number): boolean {
    return this.q.renew.run(expiresAt, name, token).changes === 1;
  }

  release(name: string, token: string): void {
    this.q.release.run(name, token);
  }

  /** Deletes leases that expired before `before`. */
  prune(before: number): void {
    this.q.prune.run(before);
  }

  close(): void {
    this.db.close();
  }
}
