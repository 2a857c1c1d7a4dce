// Login attempts: failures are counted per client address in a sliding window, and across all addresses (so that
// guessing from many addresses is slowed too). A success clears the address's failures.

export interface LoginLimits {
  perClient: number;
  overall: number;
  windowMs: number;
}

export const defaultLoginLimits: LoginLimits = { perClient: 5, overall: 50, windowMs: 5 * 60_000 };

export class LoginLimiter {
  private readonly byClient = new Map<string, number[]>();
  private all: number[] = [];

  constructor(
    private readonly limits: LoginLimits = defaultLoginLimits,
    private readonly clock: () => number = Date.now,
  ) {}

  /** Seconds to wait before `client` may try again, or 0. */
  retryAfter(client: string): number {
    const now = this.clock();
    const mine = this.recent(this.byClient.get(client) ?? [], now);
    this.all = this.recent(this.all, now);
    const blockedUntil = (list: number[], limit: number): number => {
      if (list.length < limit) return 0;
      const oldest = list[list.length - limit] ?? now;
      return oldest + this.limits.windowMs;
    };
    const until = Math.max(blockedUntil(mine, this.limits.perClient), blockedUntil(this.all, this.limits.overall));
    return until > now ? Math.ceil((until - now) / 1000) : 0;
  }

  failed(client: string): void {
    const now = this.clock();
    const mine = this.recent(this.byClient.get(client) ?? [], now);
    mine.push(now);
    this.byClient.set(client, mine);
    this.all.push(now);
    if (this.byClient.size > 10_000) this.prune(now);
  }

  succeeded(client: string): void {
    this.byClient.delete(client);
  }

  private recent(list: number[], now: number): number[] {
    const from = now - this.limits.windowMs;
    let i = 0;
    while (i < list.length && (list[i] ?? 0) <= from) i++;
    return i ? list.slice(i) : list;
  }

  private prune(now: number): void {
    for (const [client, list] of this.byClient) {
      if (this.recent(list, now).length === 0) this.byClient.delete(client);
    }
  }
}
