// Admin and registry login attempts, counted per client in a sliding window (docs/security.md, "Registry login"
// and "Operator and admin"). An attempt is counted when it starts, before the password is checked, so N logins sent
// at once get no more checks than N sent one after another. There is no count across clients: failures from one
// address (or many) never lock out an operator at another. A success takes back the client's attempts at the user
// that logged in (a client holding one user's password gains no guesses at another's by logging in). An IPv6 client
// is its /64: one subscriber usually holds a whole /64, and counting its addresses one by one would give it 2^64 times
// the attempts. A site is often given a /48 (65536 /64s), so a second, larger count per /48 keeps guesses spread
// over its /64s from multiplying the budget; an attempt that succeeds is taken back from it, so the honest logins
// of a site's many hosts never use it up.
import { siteBlock, subscriberBlock } from './address-blocks.js';

export interface LoginLimits {
  perClient: number;
  /** Attempts from all the /64s of one IPv6 /48 together. */
  perNetwork: number;
  windowMs: number;
}

export const defaultLoginLimits: LoginLimits = { perClient: 5, perNetwork: 25, windowMs: 5 * 60_000 };

/** Counts remembered at most; beyond it, those without a recent attempt are forgotten first. */
const maxClients = 10_000;

export interface Attempt {
  at: number;
  /** The user the attempt named. */
  user: string;
}

export interface Count {
  key: string;
  limit: number;
}

export class LoginLimiter {
  /** Attempts per key (a client or an IPv6 /48), least recently counted first. */
  protected readonly byKey = new Map<string, Attempt[]>();

  constructor(
    private readonly limits: LoginLimits = defaultLoginLimits,
    private readonly clock: () => number = Date.now,
  ) {}

  /** Seconds `client` must wait before its next attempt, or 0; counts nothing. */
  retryAfter(client: string): number {
    const now = this.clock();
    return Math.max(0, ...this.counts(client).map((c) => this.wait(c, now)));
  }

  /**
   * Counts an attempt by `client` at `user` (empty for the admin's one password) and returns 0, or, when it has used
   * its attempts, the seconds to wait.
   */
  attempt(client: string, user = ''): number {
    const wait = this.retryAfter(client);
    if (wait > 0) return wait;
    const now = this.clock();
    for (const { key } of this.counts(client)) {
      const list = this.recent(this.byKey.get(key) ?? [], now);
      list.push({ at: now, user });
      this.byKey.delete(key);
      this.byKey.set(key, list);
    }
    if (this.byKey.size > maxClients) this.prune(now);
    return 0;
  }

  /** The attempt at `user` succeeded: the client's attempts at that user are taken back, and the /48 gets this one back. */
  succeeded(client: string, user = ''): void {
    const [own, network] = this.counts(client);
    const list = own && this.byKey.get(own.key);
    if (own && list) this.byKey.set(own.key, list.filter((a) => a.user !== user));
    const shared = network && this.byKey.get(network.key);
    if (shared) {
      const last = shared.map((a) => a.user).lastIndexOf(user);
      if (last >= 0) shared.splice(last, 1);
    }
  }

  protected counts(client: string): Count[] {
    const network = networkKey(client);
    return [
      { key: limitKey(client), limit: this.limits.perClient },
      ...(network ? [{ key: network, limit: this.limits.perNetwork }] : []),
    ];
  }

  private wait({ key, limit }: Count, now: number): number {
    const list = this.recent(this.byKey.get(key) ?? [], now);
    if (list.length < limit) return 0;
    const oldest = list[list.length - limit]?.at ?? now;
    return Math.max(1, Math.ceil((oldest + this.limits.windowMs - now) / 1000));
  }

  private recent(list: Attempt[], now: number): Attempt[] {
    const from = now - this.limits.windowMs;
    let i = 0;
    while (i < list.length && (list[i]?.at ?? 0) <= from) i++;
    return i ? list.slice(i) : list;
  }

  private prune(now: number): void {
    for (const [key, list] of this.byKey) {
      if (this.recent(list, now).length === 0) this.byKey.delete(key);
    }
    // Still full (a scan from many addresses within the window): drop the least recently counted.
    for (const key of this.byKey.keys()) {
      if (this.byKey.size <= maxClients) break;
      this.byKey.delete(key);
    }
  }
}

/** What an attempt counts against: an IPv4 address (also IPv4-mapped) as it is, an IPv6 address as its /64. */
export const limitKey = subscriberBlock;

/** The IPv6 /48 an address belongs to, or undefined for an IPv4 (or IPv4-mapped) address. */
export const networkKey = siteBlock;
