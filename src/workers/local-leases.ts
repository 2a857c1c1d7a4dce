// Leases between the worker processes of one machine (docs/workers.md): the replicas' lease protocol (a claim that
// exactly one of racing holders wins, renewed by its holder, taken over once its holder is gone) kept in the data
// directory's lease table (cache/lease-table.ts) instead of the bucket. A holder is gone when its lease expired or its process no longer exists
// (a worker killed mid-fill is replaced at once, and its lease is taken over without waiting for the expiry).
import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import { LeaseTable, type LeaseRow } from '../cache/lease-table.js';
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
  private readonly table: LeaseTable;
  private readonly clock: () => number;
  private readonly alive: (pid: number) => boolean;
  private readonly incarnation = randomUUID();
  private prunedAt = 0;

  constructor(private readonly o: LocalLeasesOptions) {
    this.ttlMs = o.ttlMs;
    this.clock = o.clock ?? Date.now;
    this.alive = o.alive ?? processAlive;
    this.table = new LeaseTable(o.dataDir);
  }

  /** This worker's process, as its lease records name it. */
  get self(): LocalLeasesOptions['self'] & { incarnation: string } {
    return { ...this.o.self, incarnation: this.incarnation };
  }

  /** Takes the lease `name` unless a live holder has it; then says who. */
  async claim(name: string, about?: Record<string, string>): Promise<Claim> {
    const now = this.clock();
    if (now - this.prunedAt > pruneAfterMs) {
      this.prunedAt = now;
      this.table.prune(now - pruneAfterMs);
    }
    const record: LeaseRecord = { ...this.o.self, incarnation: this.incarnation, expiresAt: now + this.ttlMs, ...(about ? { about } : {}) };
    const token = randomUUID();
    const row: LeaseRow = {
      owner: record.owner,
      replica: record.replica,
      incarnation: this.incarnation,
      pid: process.pid,
      expires_at: record.expiresAt,
      about: about ? JSON.stringify(about) : null,
      token,
    };
    const outcome = this.table.claim(name, row, (current) => current.expires_at > now && this.alive(current.pid));
    if (outcome.holder) return { won: false, holder: recordOf(outcome.holder) };
    if (outcome.previous) this.o.log.warn({ lease: name, previous: outcome.previous.replica, pid: outcome.previous.pid }, 'took over the lease of a worker that is gone');
    return { won: true, lease: { name, record, etag: token } };
  }

  /** Extends a held lease; undefined when another worker took it over meanwhile. */
  async renew(lease: Lease): Promise<Lease | undefined> {
    return this.renewNow(lease);
  }

  async release(lease: Lease): Promise<void> {
    this.table.release(lease.name, lease.etag);
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
          this.table.release(held.name, held.etag);
        } catch (err) {
          this.o.log.warn({ err, lease: name }, 'lease release failed; it expires on its own');
        }
      },
    };
  }

  /** Who holds `name` now, with whether that holder still lives; undefined when nobody does. */
  holder(name: string): { record: LeaseRecord; live: boolean; self: boolean } | undefined {
    const row = this.table.get(name);
    if (!row) return undefined;
    const live = row.expires_at > this.clock() && this.alive(row.pid);
    return { record: recordOf(row), live, self: row.incarnation === this.incarnation };
  }

  /** Leases named with `prefix` held on this machine now (the machine's fills in flight: `fills/`). */
  count(prefix: string): number {
    return this.table.count(prefix, this.clock());
  }

  close(): void {
    this.table.close();
  }

  private renewNow(lease: Lease): Lease | undefined {
    const record = { ...lease.record, expiresAt: this.clock() + this.ttlMs };
    return this.table.renew(lease.name, lease.etag, record.expiresAt) ? { ...lease, record } : undefined;
  }
}

function recordOf(row: LeaseRow): LeaseRecord {
  let about: Record<string, string> | undefined;
  try {
    about = row.about ? (JSON.parse(row.about) as Record<string, string>) : undefined;
  } catch {
    about = undefined;
  }
  return { owner: row.owner, replica: row.replica, incarnation: row.incarnation, expiresAt: row.expires_at, ...(about ? { about } : {}) };
}
