// The supervisor's part in counting a client's transfers at once for the machine (docs/workers.md,
// cache/transfer-slot-table.ts): a worker that dies cannot give back the slots it held, so the supervisor deletes
// them when it sees the worker exit, and deletes an earlier run's at the machine's start, before any worker.
import type { Logger } from 'pino';
import { TransferSlotTable } from '../cache/transfer-slot-table.js';
import { processAlive } from './local-leases.js';

export class MachineTransferSlots {
  private readonly table: TransferSlotTable;

  constructor(dataDir: string) {
    this.table = new TransferSlotTable(dataDir, processAlive);
    this.table.releaseAll();
  }

  /** A worker exited: its slots come back (how many). */
  releaseOf(pid: number, log: Logger): number {
    try {
      return this.table.releaseProcess(pid);
    } catch (err) {
      // A later take finds the process gone and deletes them then.
      log.warn({ err, pid }, 'giving back a dead worker\'s transfer slots failed');
      return 0;
    }
  }
}
