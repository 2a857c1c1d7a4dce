// Per-client counts for the machine with several workers (docs/security.md, "Worker processes"): node:cluster
// hands a client's connections to any worker, so a count kept in one worker's memory would give a client its login
// attempts and its request rate once per worker. These limiters keep the same rules (access/login-limiter.ts,
// access/client-limits.ts) over rows of the data directory's workers.db: each check loads the client's rows, runs
// the rule and writes them back in one IMMEDIATE transaction, so that workers counting at once never both spend
// the client's last attempt. Transfers at once stay counted per worker (a worker killed mid-transfer would leave
// its count behind in a shared row).
import { ClientLimits, limitKey, type Bucket, type LimitSettings } from '../access/client-limits.js';
import { LoginLimiter, defaultLoginLimits, type LoginLimits } from '../access/login-limiter.js';
import type { ClientCountTable } from '../cache/client-count-table.js';

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
