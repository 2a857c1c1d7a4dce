// A client's blob transfers at once (access.limits.concurrentTransfers) counted for the machine with several
// workers (docs/workers.md; the limiter on top: workers/shared-client-counts.ts), as rows of the data directory's
// workers.db. Each transfer is one row owned by the worker process holding it (its pid, and a slot id counted in that
// process) and by its worker slot: taken in one IMMEDIATE transaction that counts the client's rows first, so that
// workers taking at once never both take the client's last slot; given back by deleting the row. A worker that
// dies cannot give its rows back: the supervisor deletes them when it sees the worker exit, the replacement deletes
// those of its slot's earlier process at its start, and a take that finds the client at its limit deletes the rows
// of processes that no longer exist before it refuses.
import type Database from 'better-sqlite3';
import { busyTimeoutMs, openWorkersDb } from './workers-db.js';

/** Who holds a transfer slot: the worker's process, and its slot on the machine (kept by a replacement). */
export interface SlotOwner {
  pid: number;
  worker: number;
}

export class TransferSlotTable {
  private readonly db: Database.Database;
  private readonly q;
  private nextId = 1;

  constructor(
    dataDir: string,
    private readonly alive: (pid: number) => boolean,
    /** How long a statement waits for another connection's write lock before it fails (tests make it short). */
    busyTimeout = busyTimeoutMs,
  ) {
    this.db = openWorkersDb(dataDir, busyTimeout);
    this.db.exec(`CREATE TABLE IF NOT EXISTS transfer_slots (
      pid INTEGER NOT NULL, id INTEGER NOT NULL, worker INTEGER NOT NULL, client TEXT NOT NULL, PRIMARY KEY (pid, id));
      CREATE INDEX IF NOT EXISTS transfer_slots_client ON transfer_slots (client)`);
    this.q = {
      count: this.db.prepare<[string], { n: number }>('SELECT count(*) AS n FROM transfer_slots WHERE client = ?'),
      pids: this.db.prepare<[string], { pid: number }>('SELECT DISTINCT pid FROM transfer_slots WHERE client = ?'),
      insert: this.db.prepare<[number, number, number, string]>('INSERT INTO transfer_slots (pid, id, worker, client) VALUES (?, ?, ?, ?)'),
      release: this.db.prepare<[number, number]>('DELETE FROM transfer_slots WHERE pid = ? AND id = ?'),
      ofPid: this.db.prepare<[number]>('DELETE FROM transfer_slots WHERE pid = ?'),
      ofWorkerBefore: this.db.prepare<[number, number]>('DELETE FROM transfer_slots WHERE worker = ? AND pid <> ?'),
    };
  }

  /**
   * Takes one of `client`'s `max` slots for `owner`: the slot's id, or undefined when the client holds them all
   * (rows of processes that no longer exist deleted first).
   */
  take(client: string, max: number, owner: SlotOwner): number | undefined {
    return this.db
      .transaction((): number | undefined => {
        if (this.q.count.get(client)!.n >= max) {
          for (const { pid } of this.q.pids.all(client)) if (!this.alive(pid)) this.q.ofPid.run(pid);
          if (this.q.count.get(client)!.n >= max) return undefined;
        }
        const id = this.nextId++;
        this.q.insert.run(owner.pid, id, owner.worker, client);
        return id;
      })
      .immediate();
  }

  release(pid: number, id: number): void {
    this.q.release.run(pid, id);
  }

  /** The rows of a worker process that is gone (the supervisor saw it exit): how many. */
  releaseProcess(pid: number): number {
    return this.q.ofPid.run(pid).changes;
  }

  /** At the machine's start, before any worker: the rows an earlier run left (how many). */
  releaseAll(): number {
    return this.db.prepare('DELETE FROM transfer_slots').run().changes;
  }

  /** At a worker's start: the rows its slot's earlier processes left (how many). */
  releaseEarlier(owner: SlotOwner): number {
    return this.q.ofWorkerBefore.run(owner.worker, owner.pid).changes;
  }

  /** Rows of `client` (every client without one), for tests. */
  held(client?: string): number {
    if (client !== undefined) return this.q.count.get(client)!.n;
    return (this.db.prepare('SELECT count(*) AS n FROM transfer_slots').get() as { n: number }).n;
  }

  close(): void {
    this.db.close();
  }
}
