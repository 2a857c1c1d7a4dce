// Disk full (issue 3, 6): stop caching, keep serving pass-through, log it once, recover when space returns.
import type { Logger } from 'pino';
import { errnoCode } from './fs-errors.js';

/** ENOSPC (no space left) or EDQUOT (quota exceeded), on the error or anywhere down its `cause` chain. */
export function isDiskFull(err: unknown): boolean {
  for (let e: unknown = err, depth = 0; e !== undefined && depth < 8; depth++) {
    const code = errnoCode(e);
    if (code === 'ENOSPC' || code === 'EDQUOT') return true;
    e = e instanceof Error ? e.cause : undefined;
  }
  return false;
}

export interface CachingGateOptions {
  clock: () => number;
  /** How long caching stays off before a fill may try to write again (default 60 s). */
  backoffMs?: number;
  log?: Pick<Logger, 'info' | 'warn'>;
}

/**
 * Whether fills may write to the cache. A fill that hits a full disk suspends caching; fills then pass through
 * without writing until the back-off ends, when the next fill tries again. The warning is logged once per outage:
 * a retry that finds the disk still full extends the back-off quietly, and the first commit that succeeds logs the
 * recovery and ends the outage.
 */
export class CachingGate {
  private suspendedUntil: number | undefined;
  private outage = false;
  private readonly backoffMs: number;

  constructor(private readonly options: CachingGateOptions) {
    this.backoffMs = options.backoffMs ?? 60_000;
  }

  /** May a fill write a temp file and commit now? */
  allowed(): boolean {
    return this.suspendedUntil === undefined || this.options.clock() >= this.suspendedUntil;
  }

  /** True while an outage is unresolved (for health and metrics), including a retry in progress. */
  get suspended(): boolean {
    return this.outage;
  }

  suspend(reason: unknown): void {
    this.suspendedUntil = this.options.clock() + this.backoffMs;
    if (this.outage) return;
    this.outage = true;
    this.options.log?.warn(
      { err: reason, retryInMs: this.backoffMs },
      'disk full: caching suspended, serving pass-through until space returns',
    );
  }

  /** Suspends caching when `err` is a full disk; returns whether it was. The fill's catch calls this. */
  failed(err: unknown): boolean {
    if (!isDiskFull(err)) return false;
    this.suspend(err);
    return true;
  }

  /** A commit succeeded: the disk has room again. */
  succeeded(): void {
    this.suspendedUntil = undefined;
    if (!this.outage) return;
    this.outage = false;
    this.options.log?.info('disk has room again: caching resumed');
  }
}
