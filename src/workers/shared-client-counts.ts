// Per-client counts for the machine with several workers (docs/security.md, "Worker processes"): node:cluster
// hands a client's connections to any worker, so a count kept in one worker's memory would give a client its login
// attempts and its request rate once per worker. These limiters keep the same rules (access/login-limiter.ts,
// access/client-limits.ts) over rows of the data directory's workers.db: each check loads the client's rows, runs
// the rule and writes them back in one IMMEDIATE transaction, so that workers counting at once never both spend
// the client's last attempt. Transfers at once stay counted per worker (a worker killed mid-transfer would leave
// its count behind in a shared row).
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { ClientLimits, limitKey, type Bucket, type LimitSettings } from '../access/client-limits.js';
import { LoginLimiter, defaultLoginLimits, type LoginLimits } from '../access/login-limiter.js';

const busyTimeoutMs = 5000;
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
    this.db = new Database(join(dataDir, 'workers.db'), { timeout: busyTimeoutMs });
    this.db.pragma('journal_mode = WAL');
    this.db.pragma('synchronous = NORMAL');
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

/** Login attempts counted for the machine. */
export class SharedLoginLimiter extends LoginLimiter {
  constructor(
    private readonly table: ClientCountTable,
    private readonly settings: LoginLimits = defaultLoginLimits,
    clock: () => number = Date.now,
  ) {
    super(settings, clock);
  }

  override retryAfter(client: string): number {
    return this.shared(client, () => super.retryAfter(client));
  }

  override attempt(client: string): number {
    return this.shared(client, () => super.attempt(client));
  }

  override succeeded(client: string): void {
    this.shared(client, () => super.succeeded(client));
  }

  private shared<R>(client: string, rule: () => R): R {
    return this.table.around('login', this.settings.windowMs, this.counts(client).map((c) => c.key), this.byKey, rule);
  }
}

/** Request rates counted for the machine. */
export class SharedClientLimits extends ClientLimits {
  constructor(
    private readonly table: ClientCountTable,
    settings: LimitSettings,
    clock: () => number = Date.now,
  ) {
    super(settings, clock);
  }

  override take(client: string): number {
    const rate = this.settings.requestsPerSecond;
    if (!rate) return 0;
    // A bucket untouched for as long as it takes to refill is full: as good as no row.
    const refillMs = ((this.settings.burst ?? Math.max(1, Math.ceil(rate))) / rate) * 1000;
    return this.table.around<Bucket, number>('rate', refillMs, [limitKey(client)], this.buckets, () => super.take(client));
  }
}
