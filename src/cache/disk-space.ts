// Disk full (docs/storage.md, "The cache"): stop caching, keep serving pass-through, log it once, recover when space
// returns.
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

/** A blob whose announced size does not fit the cache's room: it is passed through, never written. */
export class NoRoomForBlob extends Error {
  readonly code = 'BLOB_EXCEEDS_CACHE';
}

export const isNoRoomForBlob = (err: unknown): err is NoRoomForBlob => err instanceof NoRoomForBlob;

/**
 * The room fills may claim: an upstream's Content-Length is a claim, not a fact, so a fill reserves its announced
 * size before it writes a byte, and all fills in flight together never reserve more than the cache may hold
 * (cache.maxSize). A fill never writes past its announced size (blob-fill.ts), so the temp files stay within the
 * reservations; a lie far beyond the cache costs no disk at all. Running out of disk below that bound is the
 * CachingGate's business.
 */
export class FillRoom {
  private reserved = 0;

  constructor(private readonly maxBytes: () => number) {}

  /** Reserves `bytes` for one fill: the release, to call once when the fill is over; undefined when it does not fit. */
  reserve(bytes: number): (() => void) | undefined {
    if (!Number.isSafeInteger(bytes) || bytes < 0 || this.reserved + bytes > this.maxBytes()) return undefined;
    this.reserved += bytes;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.reserved -= bytes;
    };
  }

  /** Bytes reserved by fills in flight. */
  get inUse(): number {
    return this.reserved;
  }
}
