// One eviction at a time across replicas, or across the worker processes of one machine: a run goes ahead only
// while its process holds the `eviction` lease; the others skip their turn (docs/storage.md, docs/workers.md).
import type { Logger } from 'pino';
import type { EvictionTurn } from '../cache/eviction-turn.js';
import type { LeaseRecord } from './leases.js';

export interface LeaseHolder {
  hold(name: string): Promise<{ won: true; release: () => Promise<void> } | { won: false; holder: LeaseRecord }>;
}

/** Eviction turns taken with `leases`; `peer` names the others in the log ("replica", "worker"). */
export function evictionByLease(leases: LeaseHolder, log: Logger, peer: string): EvictionTurn {
  return async (run) => {
    const held = await leases.hold('eviction');
    if (!held.won) {
      log.info({ holder: held.holder.replica }, `eviction skipped: another ${peer} is evicting`);
      return undefined;
    }
    try {
      return await run();
    } finally {
      await held.release();
    }
  };
}
