// The leases of a worker of a replica (docs/workers.md, "Workers of a replica"): the machine's lease first (workers.db,
// local-leases.ts), then the bucket's (cluster/leases.ts). Only the worker that holds a lease on its machine asks the
// bucket for it, so the bucket sees one claimant per machine, as with one process per replica. That is also what makes
// the bucket's rule for a predecessor safe among workers: each worker has an incarnation of its own under the
// replica's one advertise address, so a bucket lease of this address with another incarnation is taken over at once,
// and only a worker that holds the machine's lease can meet one (its former holder is then gone or done).
import type { Claim, LeaseRecord, LeaseStore } from '../cluster/leases.js';
import type { LocalLeases } from './local-leases.js';

type Held = { won: true; release: () => Promise<void> } | { won: false; holder: LeaseRecord };

export class ReplicaLeases {
  constructor(
    private readonly machine: LocalLeases,
    private readonly bucket: Pick<LeaseStore, 'claim' | 'hold' | 'ttlMs'>,
  ) {}

  /** A lease lives as long as the bucket's does. */
  get ttlMs(): number {
    return this.bucket.ttlMs;
  }

  /** Claims `name` on the machine, then in the bucket; a machine lease whose bucket claim failed is given back. */
  async claim(name: string, about?: Record<string, string>): Promise<Claim> {
    const local = await this.machine.claim(name, about);
    if (!local.won) return local;
    let claim: Claim;
    try {
      claim = await this.bucket.claim(name, about);
    } catch (err) {
      await this.machine.release(local.lease);
      throw err;
    }
    if (!claim.won) await this.machine.release(local.lease);
    return claim;
  }

  /** Holds `name` on the machine, then in the bucket, until the returned release gives both back. */
  async hold(name: string, about?: Record<string, string>, onLost?: () => void): Promise<Held> {
    const local = await this.machine.hold(name, about, onLost);
    if (!local.won) return local;
    let held: Held;
    try {
      held = await this.bucket.hold(name, about, onLost);
    } catch (err) {
      await local.release();
      throw err;
    }
    if (!held.won) {
      await local.release();
      return held;
    }
    const bucket = held;
    return {
      won: true,
      release: async () => {
        await bucket.release();
        await local.release();
      },
    };
  }
}
