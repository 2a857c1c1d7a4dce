// Per-client limits: a request rate (token bucket: `requestsPerSecond` refilled continuously, up to `burst`) and a
// number of blob transfers at once. A client is its user when it logged in, else its address; an IPv6 address
// counts as its /64 (address-blocks.ts).
// Idle buckets are dropped, and the map holds at most `maxTrackedClients` (the least recently seen go first), so a
// scan from many addresses cannot grow it without bound.
import { subscriberBlock } from './address-blocks.js';

/** Buckets kept at most: about 100 bytes each, some 10 MB in all. */
export const maxTrackedClients = 100_000;

/** What a client is counted under: an IPv6 address's /64 (address-blocks.ts), anything else as it is. */
export const limitKey = subscriberBlock;

export interface LimitSettings {
  requestsPerSecond?: number | undefined;
  burst?: number | undefined;
  concurrentTransfers?: number | undefined;
}

export interface Bucket {
  tokens: number;
  at: number;
}

export class ClientLimits {
  protected readonly buckets = new Map<string, Bucket>();
  private readonly transfers = new Map<string, number>();
  private lastSweep = 0;

  constructor(
    protected readonly settings: LimitSettings,
    private readonly clock: () => number = Date.now,
  ) {}

  /** Seconds until the client may send another request, or 0 (and the request is counted). */
  take(client: string): number {
    const rate = this.settings.requestsPerSecond;
    if (!rate) return 0;
    const key = limitKey(client);
    const burst = this.settings.burst ?? Math.max(1, Math.ceil(rate));
    const now = this.clock();
    this.sweep(now, burst, rate);
    const b = this.buckets.get(key) ?? { tokens: burst, at: now };
    b.tokens = Math.min(burst, b.tokens + ((now - b.at) / 1000) * rate);
    b.at = now;
    // Re-inserted: the map's order is least recently seen first, which is what goes when it is full.
    this.buckets.delete(key);
    this.buckets.set(key, b);
    if (this.buckets.size > maxTrackedClients) this.dropOldest();
    if (b.tokens >= 1) {
      b.tokens -= 1;
      return 0;
    }
    return Math.max(1, Math.ceil((1 - b.tokens) / rate));
  }

  /** Starts a transfer for the client; false when it has its limit already. `release` must follow a true. */
  startTransfer(client: string): boolean {
    const max = this.settings.concurrentTransfers;
    if (!max) return true;
    client = limitKey(client);
    const n = this.transfers.get(client) ?? 0;
    if (n >= max) return false;
    this.transfers.set(client, n + 1);
    return true;
  }

  endTransfer(client: string): void {
    if (!this.settings.concurrentTransfers) return;
    client = limitKey(client);
    const n = (this.transfers.get(client) ?? 1) - 1;
    if (n <= 0) this.transfers.delete(client);
    else this.transfers.set(client, n);
  }

  /** Clients with a rate bucket right now. */
  get clients(): number {
    return this.buckets.size;
  }

  /** Over the bound: the least recently seen client goes (its bucket would start full again anyway). */
  private dropOldest(): void {
    const oldest = this.buckets.keys().next();
    if (!oldest.done) this.buckets.delete(oldest.value);
  }

  private sweep(now: number, burst: number, rate: number): void {
    if (now - this.lastSweep < 60_000) return;
    this.lastSweep = now;
    const full = (burst / rate) * 1000;
    for (const [k, b] of this.buckets) if (now - b.at > full) this.buckets.delete(k);
  }
}
