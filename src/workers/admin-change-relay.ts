// The supervisor's part in applying an admin change on every worker (workers/admin-changes.ts, docs/workers.md):
// it tells every other serving worker to read the stored state again, and tells the lead once each has (or has
// exited meanwhile).
import type { Worker } from 'node:cluster';
import type { SupervisorMessage } from './worker-context.js';

interface Change {
  lead: Worker;
  /** The lead's id for the change. */
  id: number;
  waiting: Set<Worker>;
}

export class AdminChangeRelay {
  private readonly changes = new Map<number, Change>();
  private next = 0;

  /** The lead changed something: `others` (the serving workers but the lead) read it again. */
  changed(lead: Worker, id: number, others: Worker[]): void {
    const key = this.next++;
    const change: Change = { lead, id, waiting: new Set(others.filter((w) => w.isConnected())) };
    this.changes.set(key, change);
    const refresh: SupervisorMessage = { type: 'pullgate:refresh', id: key };
    for (const w of change.waiting) w.send(refresh);
    this.settle(key, change);
  }

  /** A worker has read the change `key` again. */
  refreshed(worker: Worker, key: number): void {
    const change = this.changes.get(key);
    if (!change) return;
    change.waiting.delete(worker);
    this.settle(key, change);
  }

  /** A worker exited: no change waits for it. */
  gone(worker: Worker): void {
    for (const [key, change] of this.changes) {
      if (change.waiting.delete(worker)) this.settle(key, change);
    }
  }

  private settle(key: number, change: Change): void {
    if (change.waiting.size > 0) return;
    this.changes.delete(key);
    const applied: SupervisorMessage = { type: 'pullgate:applied', id: change.id };
    if (change.lead.isConnected()) change.lead.send(applied);
  }
}
