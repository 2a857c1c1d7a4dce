// Leases between the worker processes of one machine (docs/workers.md): the replicas' lease protocol (a claim that
// exactly one of racing holders wins, renewed by its holder, taken over once its holder is gone) kept in a small
// SQLite file of the data directory instead of the bucket. A claim is one IMMEDIATE transaction, so of racing
// workers exactly one writes the row. A holder is gone when its lease expired or its process no longer exists
// (a worker killed mid-fill is replaced at once, and its lease is taken over without waiting for the expiry).
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import type { Logger } from 'pino';
import type { Claim, Lease, LeaseRecord } from '../cluster/leases.js';

export interface LocalLeasesOptions {
  dataDir: string;
  ttlMs: number;
  /** This worker: its internal endpoint (where other workers follow its fills) and its name for logs. */
  self: { owner: string; replica: string };
  log: Logger;
  clock?: () => number;
  /** Whether a process id is a live process (tests replace it). */
  alive?: (pid: number) => boolean;
}

interface Row {
  owner: string;
  replica: string;
  incarnation: string;
  pid: number;
  expires_at: number;
  about: string | null;
  token: string;
}

const busyTimeoutMs = 5000;
/** Leases expired this long ago are deleted (a watch tick's lease is never released: it expires), at most this often. */
const pruneAfterMs = 3_600_000;

export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // EPERM: it exists, under another user.
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export class LocalLeases {
  readonly ttlMs: number;
  private readonly db: Database.Database;
  private readonly clock: () => number;
  private readonly alive: (pid: number) => boolean;
  private readonly incarnation = randomUUID();
  private readonly q;
  private prunedAt = 0;

  constructor(private readonly o: LocalLeasesOptions) {
    this.ttlMs = o.ttlMs;
    this.clock = o.clock ?? Date.now;
    this.alive = o.alive ?? processAlive;
    this.db = new Database(join(o.dataDir, 'workers.db'), { timeout: busyTimeoutMs });
    this.db.pragma('journal_mode = WAL');
    this.db.pragma('synchronous = NORMAL');
    this.db.exec(`CREATE TABLE IF NOT EXISTS leases (
      name TEXT PRIMARY KEY, owner TEXT NOT NULL, replica TEXT NOT NULL, incarnation TEXT NOT NULL,
      pid INTEGER NOT NULL, expires_at INTEGER NOT NULL, about TEXT, token TEXT NOT NULL)`);
    this.q = {
      get: this.db.prepare<[string], Row>('SELECT * FROM leases WHERE name = ?'),
      put: this.db.prepare<[string, string, string, string, number, number, string | null, string]>(
        `INSERT INTO leases (name, owner, replica, incarnation, pid, expires_at, about, token) VALUES (?, ?, ?, ?, ?, ?, ?, ?)
         ON CONFLICT (name) DO UPDATE SET owner = excluded.owner, replica = excluded.replica, incarnation = excluded.incarnation,
           pid = excluded.pid, expires_at = excluded.expires_at, about = excluded.about, token = excluded.token`,
      ),
      renew: this.db.prepare<[number, string, string]>('UPDATE leases SET expires_at = ? WHERE name = ? AND token = ?'),
      release: this.db.prepare<[string, string]>('DELETE FROM leases WHERE name = ? AND token = ?'),
      prune: this.db.prepare<[number]>('DELETE FROM leases WHERE expires_at < ?'),
    };
  }

  /** Takes the lease `name` unless a live holder has it; then says who. */
  async claim(name: string, about?: Record<string, string>): Promise<Claim> {
    const now = this.clock();
    if (now - this.prunedAt > pruneAfterMs) {
      this.prunedAt = now;
      this.q.prune.run(now - pruneAfterMs);
    }
    const record: LeaseRecord = { ...this.o.self, incarnation: this.incarnation, expiresAt: now + this.ttlMs, ...(about ? { about } : {}) };
    const token = randomUUID();
    const outcome = this.db
      .transaction((): { previous?: Row; holder?: Row } => {
        const current = this.q.get.get(name);
        if (current && current.expires_at > now && this.alive(current.pid)) return { holder: current };
        this.q.put.run(name, record.owner, record.replica, this.incarnation, process.pid, record.expiresAt, about ? JSON.stringify(about) : null, token);
        return current ? { previous: current } : {};
      })
      .immediate();
    if (outcome.holder) return { won: false, holder: recordOf(outcome.holder) };
    if (outcome.previous) this.o.log.warn({ lease: name, previous: outcome.previous.replica, pid: outcome.previous.pid }, 'took over the lease of a worker that is gone');
    return { won: true, lease: { name, record, etag: token } };
  }

  /** Extends a held lease; undefined when another worker took it over meanwhile. */
  async renew(lease: Lease): Promise<Lease | undefined> {
    return this.renewNow(lease);
  }

  async release(lease: Lease): Promise<void> {
    this.q.release.run(lease.name, lease.etag);
  }

  /** Claims `name` and renews it every third of the TTL until the returned release is called. */
  async hold(name: string, about?: Record<string, string>, onLost?: () => void): Promise<{ won: true; release: () => Promise<void> } | { won: false; holder: LeaseRecord }> {
    const claim = await this.claim(name, about);
    if (!claim.won) return claim;
    let lease: Lease | undefined = claim.lease;
    // Renewals are synchronous SQLite writes here, so they can never overlap as the bucket's can.
    const timer = setInterval(() => {
      if (!lease) return;
      try {
        lease = this.renewNow(lease);
        if (!lease) {
          this.o.log.warn({ lease: name }, 'lease taken over by another worker');
          clearInterval(timer);
          onLost?.();
        }
      } catch (err) {
        this.o.log.warn({ err, lease: name }, 'lease renewal failed');
      }
    }, Math.max(100, Math.floor(this.ttlMs / 3)));
    timer.unref();
    return {
      won: true,
      release: async () => {
        clearInterval(timer);
        const held = lease;
        lease = undefined;
        if (!held) return;
        try {
          this.q.release.run(held.name, held.etag);
        } catch (err) {
          this.o.log.warn({ err, lease: name }, 'lease release failed; it expires on its own');
        }
      },
    };
  }

  close(): void {
    this.db.close();
  }

  private renewNow(lease: Lease): Lease | undefined {
    const record = { ...lease.record, expiresAt: this.clock() + this.ttlMs };
    return this.q.renew.run(record.expiresAt, lease.name, lease.etag).changes === 1 ? { ...lease, record } : undefined;
  }
}

function recordOf(row: Row): LeaseRecord {
  let about: Record<string, string> | undefined;
  try {
    about = row.about ? (JSON.parse(row.about) as Record<string, string>) : undefined;
  } catch {
    about = undefined;
  }
  return { owner: row.owner, replica: row.replica, incarnation: row.incarnation, expiresAt: row.expires_at, ...(about ? { about } : {}) };
}
