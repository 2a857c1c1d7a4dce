// Admin login attempts, counted per client in a sliding window (docs/security.md, "Operator and admin"). An attempt
// is counted when it starts, before the password is checked, so N logins sent at once get no more checks than N
// sent one after another. There is no count across clients: failures from one address (or many) never lock out an
// operator at another. A success clears the client's count.

export interface LoginLimits {
  perClient: number;
  windowMs: number;
}

export const defaultLoginLimits: LoginLimits = { perClient: 5, windowMs: 5 * 60_000 };

/** Clients remembered at most; beyond it, those without a recent attempt are forgotten first. */
const maxClients = 10_000;

export class LoginLimiter {
  private readonly byClient = new Map<string, number[]>();

  constructor(
    private readonly limits: LoginLimits = defaultLoginLimits,
    private readonly clock: () => number = Date.now,
  ) {}

  /** Seconds `client` must wait before its next attempt, or 0; counts nothing. */
  retryAfter(client: string): number {
    const now = this.clock();
    const mine = this.recent(this.byClient.get(client) ?? [], now);
    if (mine.length < this.limits.perClient) return 0;
    const oldest = mine[mine.length - this.limits.perClient] ?? now;
    return Math.max(1, Math.ceil((oldest + this.limits.windowMs - now) / 1000));
  }

  /** Counts an attempt by `client` and returns 0, or, when it has used its attempts, the seconds to wait. */
  attempt(client: string): number {
    const wait = this.retryAfter(client);
    if (wait > 0) return wait;
    const now = this.clock();
    const mine = this.recent(this.byClient.get(client) ?? [], now);
    mine.push(now);
    this.byClient.set(client, mine);
    if (this.byClient.size > maxClients) this.prune(now);
    return 0;
  }

  /** The attempt succeeded: the client starts afresh. */
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
    // Still full (a scan from many addresses within the window): drop the oldest entries, insertion order.
    for (const client of this.byClient.keys()) {
      if (this.byClient.size <= maxClients) break;
      this.byClient.delete(client);
    }
  }
}
