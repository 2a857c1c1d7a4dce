// Per-client limits: a request rate (token bucket: `requestsPerSecond` refilled continuously, up to `burst`) and a
// number of blob transfers at once. A client is its user when it logged in, else its address. Idle buckets are
// dropped so that a scan from many addresses cannot grow the maps without bound.
export interface LimitSettings {
  requestsPerSecond?: number;
  burst?: number;
  concurrentTransfers?: number;
}

interface Bucket {
  tokens: number;
  at: number;
}

export class ClientLimits {
  private readonly buckets = new Map<string, Bucket>();
  private readonly transfers = new Map<string, number>();
  private lastSweep = 0;

  constructor(
    private readonly settings: LimitSettings,
    private readonly clock: () => number = Date.now,
  ) {}

  /** Seconds until the client may send another request, or 0 (and the request is counted). */
  take(client: string): number {
    const rate = this.settings.requestsPerSecond;
    if (!rate) return 0;
    const burst = this.settings.burst ?? Math.max(1, Math.ceil(rate));
    const now = this.clock();
    this.sweep(now, burst, rate);
    const b = this.buckets.get(client) ?? { tokens: burst, at: now };
    b.tokens = Math.min(burst, b.tokens + ((now - b.at) / 1000) * rate);
    b.at = now;
    this.buckets.set(client, b);
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
    const n = this.transfers.get(client) ?? 0;
    if (n >= max) return false;
    this.transfers.set(client, n + 1);
    return true;
  }

  endTransfer(client: string): void {
    if (!this.settings.concurrentTransfers) return;
    const n = (this.transfers.get(client) ?? 1) - 1;
    if (n <= 0) this.transfers.delete(client);
    else this.transfers.set(client, n);
  }

  private sweep(now: number, burst: number, rate: number): void {
    if (now - this.lastSweep < 60_000) return;
    this.lastSweep = now;
    const full = (burst / rate) * 1000;
    for (const [k, b] of this.buckets) if (now - b.at > full) this.buckets.delete(k);
  }
}
