// Per-client counts for the machine with several workers (docs/security.md, "Worker processes"): node:cluster
// hands a client's connections to any worker, so a count kept in one worker's memory would give a client its login
// attempts and its request rate once per worker. These limiters keep the same rules (access/login-limiter.ts,
// access/client-limits.ts) over rows of the data directory's workers.db: each check loads the client's rows, runs
// the rule and writes them back in one IMMEDIATE transaction, so that workers counting at once never both spend
// the client's last attempt. Its blob transfers at once are rows of their own, one per transfer, owned by the
// worker holding it (cache/transfer-slot-table.ts), so that a worker killed mid-transfer leaves nothing counted.
import { ClientLimits, limitKey, type Bucket, type LimitSettings } from '../access/client-limits.js';
import { LoginLimiter, defaultLoginLimits, type LoginLimits } from '../access/login-limiter.js';
import type { ClientCountTable } from '../cache/client-count-table.js';
import type { SlotOwner, TransferSlotTable } from '../cache/transfer-slot-table.js';

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

  override attempt(client: string, user = ''): number {
    return this.shared(client, () => super.attempt(client, user));
  }

  override succeeded(client: string, user = ''): void {
    this.shared(client, () => super.succeeded(client, user));
  }

  private shared<R>(client: string, rule: () => R): R {
    return this.table.around('login', this.settings.windowMs, this.counts(client).map((c) => c.key), this.byKey, rule);
  }
}

/**
 * How soon a slot that could not be given back is tried again: doubled after each timed try that fails, up to the
 * maximum (each failed try waited for workers.db's busy timeout, so tries every second would stall the worker).
 */
const releaseRetryMs = { first: 1000, max: 30_000 };

/** Request rates and transfers at once counted for the machine. */
export class SharedClientLimits extends ClientLimits {
  /** The ids of the slots this worker holds, per client (any of a client's slots may be given back for it). */
  private readonly held = new Map<string, number[]>();
  /** Slots ended whose rows could not be deleted yet (workers.db locked): given back first thing next time. */
  private readonly owed = new Set<number>();
  private retry: NodeJS.Timeout | undefined;
  private retryMs = releaseRetryMs.first;

  constructor(
    private readonly table: ClientCountTable,
    settings: LimitSettings,
    clock: () => number = Date.now,
    private readonly slots: { table: TransferSlotTable; owner: SlotOwner },
  ) {
    super(settings, clock);
  }

  override startTransfer(client: string): boolean {
    const max = this.settings.concurrentTransfers;
    if (!max) return super.startTransfer(client);
    const key = limitKey(client);
    if (this.owed.size) this.giveBack();
    const id = this.slots.table.take(key, max, this.slots.owner);
    if (id === undefined) return false;
    const ids = this.held.get(key);
    if (ids) ids.push(id);
    else this.held.set(key, [id]);
    return true;
  }

  override endTransfer(client: string): void {
    if (!this.settings.concurrentTransfers) return super.endTransfer(client);
    const key = limitKey(client);
    const ids = this.held.get(key);
    const id = ids?.pop();
    if (!ids?.length) this.held.delete(key);
    if (id !== undefined) this.release(id);
  }

  /** Gives a slot back (never thrown): one that cannot be yet stays owed until it is (giveBack). */
  private release(id: number): void {
    this.owed.add(id);
    this.giveBack();
  }

  /**
   * Gives back every slot owed. Should workers.db stay locked past its busy timeout, what is left is tried again on
   * the next take or release and after a delay that grows to 30 s, and so on while the worker lives: a slot is
   * never lost.
   */
  private giveBack(timed = false): void {
    for (const id of this.owed) {
      try {
        this.slots.table.release(this.slots.owner.pid, id);
        this.owed.delete(id);
      } catch {
        break;
      }
    }
    if (this.owed.size === 0) {
      this.retryMs = releaseRetryMs.first;
      return;
    }
    if (timed) this.retryMs = Math.min(this.retryMs * 2, releaseRetryMs.max);
    if (this.retry) return;
    this.retry = setTimeout(() => {
      this.retry = undefined;
      this.giveBack(true);
    }, this.retryMs);
    this.retry.unref();
  }

  override take(client: string): number {
    const rate = this.settings.requestsPerSecond;
    if (!rate) return 0;
    // A bucket untouched for as long as it takes to refill is full: as good as no row.
    const refillMs = ((this.settings.burst ?? Math.max(1, Math.ceil(rate))) / rate) * 1000;
    return this.table.around<Bucket, number>('rate', refillMs, [limitKey(client)], this.buckets, () => super.take(client));
  }
}
