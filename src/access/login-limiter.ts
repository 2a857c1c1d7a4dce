// Admin login attempts, counted per client in a sliding window (docs/security.md, "Operator and admin"). An attempt
// is counted when it starts, before the password is checked, so N logins sent at once get no more checks than N
// sent one after another. There is no count across clients: failures from one address (or many) never lock out an
// operator at another. A success clears the client's count. An IPv6 client is its /64: one subscriber usually
// holds a whole /64, and counting its addresses one by one would give it 2^64 times the attempts.
import { isIP } from 'node:net';
import { unmapped } from '../config/address-list.js';

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
    const mine = this.recent(this.byClient.get(limitKey(client)) ?? [], now);
    if (mine.length < this.limits.perClient) return 0;
    const oldest = mine[mine.length - this.limits.perClient] ?? now;
    return Math.max(1, Math.ceil((oldest + this.limits.windowMs - now) / 1000));
  }

  /** Counts an attempt by `client` and returns 0, or, when it has used its attempts, the seconds to wait. */
  attempt(client: string): number {
    const wait = this.retryAfter(client);
    if (wait > 0) return wait;
    const now = this.clock();
    const key = limitKey(client);
    const mine = this.recent(this.byClient.get(key) ?? [], now);
    mine.push(now);
    this.byClient.set(key, mine);
    if (this.byClient.size > maxClients) this.prune(now);
    return 0;
  }

  /** The attempt succeeded: the client starts afresh. */
  succeeded(client: string): void {
    this.byClient.delete(limitKey(client));
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

/** What an attempt counts against: an IPv4 address (also IPv4-mapped) as it is, an IPv6 address as its /64. */
export function limitKey(address: string): string {
  const client = unmapped(address);
  if (isIP(client) !== 6) return client;
  const [head = '', tail] = client.toLowerCase().split('::');
  const groups = (part: string | undefined): string[] => (part ? part.split(':') : []);
  const h = groups(head);
  const t = groups(tail);
  // An embedded IPv4 tail (`::1.2.3.4`) is two groups; only the first four groups matter here.
  const count = [...h, ...t].reduce((n, g) => n + (g.includes('.') ? 2 : 1), 0);
  const all = tail === undefined ? h : [...h, ...Array<string>(Math.max(0, 8 - count)).fill('0'), ...t];
  return `${all.slice(0, 4).map((g) => (g.includes('.') ? g : parseInt(g || '0', 16).toString(16))).join(':')}::/64`;
}
