// The nonces a replica's internal endpoint has accepted, shared by the worker processes that serve it (docs/workers.md,
// "Workers of a replica"), in the data directory's workers.db: node:cluster hands a peer's request to any worker, so
// a nonce remembered in one worker's memory would let a captured request be replayed once to each of the others.
// Remembering is one INSERT OR IGNORE: of workers racing on one nonce exactly one inserts it.
import type Database from 'better-sqlite3';
import { openWorkersDb } from './workers-db.js';

export class NonceTable {
  private readonly db: Database.Database;
  private readonly q;

  constructor(
    dataDir: string,
    /** Nonces remembered at most; past it every new one is refused until old ones are forgotten (fails closed). */
    private readonly maxRows: number,
  ) {
    this.db = openWorkersDb(dataDir);
    this.db.exec('CREATE TABLE IF NOT EXISTS peer_nonces (nonce TEXT PRIMARY KEY, forget_at INTEGER NOT NULL)');
    this.db.exec('CREATE INDEX IF NOT EXISTS peer_nonces_forget_at ON peer_nonces (forget_at)');
    this.q = {
      prune: this.db.prepare<[number]>('DELETE FROM peer_nonces WHERE forget_at <= ?'),
      count: this.db.prepare<[], { n: number }>('SELECT count(*) AS n FROM peer_nonces'),
      insert: this.db.prepare<[string, number]>('INSERT OR IGNORE INTO peer_nonces (nonce, forget_at) VALUES (?, ?)'),
    };
  }

  /** Whether `nonce` is new (it is then remembered until `forgetAt`). */
  firstUse(nonce: string, now: number, forgetAt: number): boolean {
    // A peer request starts a transfer of a whole blob: a few statements each are nothing next to it.
    return this.db
      .transaction((): boolean => {
        this.q.prune.run(now);
        if ((this.q.count.get()?.n ?? 0) >= this.maxRows) return false;
        return this.q.insert.run(nonce, forgetAt).changes === 1;
      })
      .immediate();
  }

  close(): void {
    this.db.close();
  }
}
