// The quota governor (docs/watch.md): Docker Hub and others announce how many pulls are left
// (`ratelimit-remaining: 76;w=21600`). Background work (watch runs) spends pulls only above a reserve kept for
// live clients, and stops altogether after a 429 until the upstream's reset; live tag revalidation under a low
// quota serves the cached tag rather than spend a pull on a manifest GET.
import type { UpstreamConfig } from '../config/config.js';
import { quotaSchema } from '../config/watch.js';
import type { RateLimit } from '../upstream/exchange.js';

const defaultQuota = quotaSchema.parse({});

/** The pulls an upstream's settings keep for live clients: its `quota.reserve`, else the setting's default. */
export function reserveOf(config: Pick<UpstreamConfig, 'quota'> | undefined): number {
  return (config?.quota ?? defaultQuota).reserve;
}

export interface QuotaView {
  upstream: string;
  limit?: number;
  remaining?: number;
  /** The window the figures are for, in seconds (`w=`), when announced. */
  windowSeconds?: number;
  /** Background work is paused until then (ms), after a 429. */
  pausedUntil?: number;
  reserve: number;
  /** What the governor held back: watch runs or tags skipped, live revalidations served stale. */
  heldBack: { watch: number; live: number };
  at?: number;
}

interface State extends QuotaView {}

/** `76;w=21600` -> 76 and 21600; a bare number; anything else: undefined. */
export function parseQuotaHeader(v: string | undefined): { value: number; window?: number } | undefined {
  if (v === undefined) return undefined;
  const m = /^\s*(\d+)\s*(?:;\s*w\s*=\s*(\d+))?/.exec(v);
  if (!m?.[1]) return undefined;
  return { value: Number(m[1]), ...(m[2] ? { window: Number(m[2]) } : {}) };
}

/** Without a Retry-After or an announced window, a 429 pauses background work this long. */
const defaultPauseMs = 3600_000;

export class QuotaGovernor {
  private readonly states = new Map<string, State>();

  constructor(
    private readonly reserveOf: (upstream: string) => number,
    private readonly clock: () => number,
  ) {}

  private state(upstream: string): State {
    let s = this.states.get(upstream);
    if (!s) {
      s = { upstream, reserve: this.reserveOf(upstream), heldBack: { watch: 0, live: 0 } };
      this.states.set(upstream, s);
    }
    s.reserve = this.reserveOf(upstream);
    return s;
  }

  /** The upstream's rate-limit headers changed (upstream/upstream.ts records them). */
  observed(upstream: string, rl: RateLimit): void {
    const s = this.state(upstream);
    const limit = parseQuotaHeader(rl.limit);
    const remaining = parseQuotaHeader(rl.remaining);
    if (limit) s.limit = limit.value;
    if (remaining) s.remaining = remaining.value;
    const window = remaining?.window ?? limit?.window;
    if (window !== undefined) s.windowSeconds = window;
    s.at = rl.at;
  }

  /** The upstream answered 429: background work waits for `retryAfterMs`, else the window, else an hour. */
  refused(upstream: string, retryAfterMs?: number): void {
    const s = this.state(upstream);
    const wait = retryAfterMs ?? (s.windowSeconds !== undefined ? s.windowSeconds * 1000 : defaultPauseMs);
    s.pausedUntil = Math.max(s.pausedUntil ?? 0, this.clock() + wait);
  }

  /**
   * What is known to remain now: a figure older than its window says nothing any more (the window has passed,
   * the quota refilled), and neither does the zero a 429 left once its pause is over.
   */
  private remainingNow(s: State, now: number): number | undefined {
    if (s.pausedUntil !== undefined && s.pausedUntil <= now) {
      delete s.pausedUntil;
      if (s.remaining === 0) delete s.remaining;
    }
    if (s.remaining !== undefined && s.at !== undefined && s.windowSeconds !== undefined && s.at + s.windowSeconds * 1000 <= now) delete s.remaining;
    return s.remaining;
  }

  /** Whether background work may spend `pulls` more pulls now; counts a refusal as held back. */
  mayRunBackground(upstream: string, pulls = 1): boolean {
    const s = this.state(upstream);
    const now = this.clock();
    const remaining = this.remainingNow(s, now);
    let ok = true;
    if (s.pausedUntil !== undefined && s.pausedUntil > now) ok = false;
    else if (remaining !== undefined && remaining - pulls < s.reserve) ok = false;
    if (!ok) s.heldBack.watch++;
    return ok;
  }

  /** Whether a live tag revalidation should serve the cached tag instead of a manifest GET (counted). */
  conserveLive(upstream: string): boolean {
    const s = this.state(upstream);
    const now = this.clock();
    const remaining = this.remainingNow(s, now);
    // Only the announced figure: a pause after a 429 holds background work, while live requests keep asking (the
    // upstream answers them itself, and a live 429 reaches the client).
    const low = remaining !== undefined && remaining <= s.reserve;
    if (low) s.heldBack.live++;
    return low;
  }

  view(upstream: string): QuotaView {
    const s = this.state(upstream);
    return { ...s, heldBack: { ...s.heldBack } };
  }

  all(): QuotaView[] {
    return [...this.states.keys()].sort().map((u) => this.view(u));
  }
}
