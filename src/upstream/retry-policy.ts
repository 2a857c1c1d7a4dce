// Bounded retries for idempotent upstream requests: exponential backoff with full jitter between `minDelayMs`
// and `maxDelayMs`, and an upstream's own Retry-After (429/503) honoured when it is short enough to wait for.
// A longer Retry-After is not waited out: the answer goes back to the client (which has its own retry logic).
export interface RetrySettings {
  /** Tries in all, the first included (1 = no retry). */
  attempts: number;
  minDelayMs: number;
  maxDelayMs: number;
}

/**
 * How long to wait before try number `attempt + 1` (attempt counts from 1), or undefined when there is no
 * further try: attempts used up, or a Retry-After longer than the longest wait.
 */
export function retryDelay(
  settings: RetrySettings,
  attempt: number,
  retryAfterMs: number | undefined,
  random: () => number = Math.random,
): number | undefined {
  if (attempt >= settings.attempts) return undefined;
  if (retryAfterMs !== undefined) return retryAfterMs <= settings.maxDelayMs ? Math.max(retryAfterMs, 0) : undefined;
  const ceiling = Math.min(settings.maxDelayMs, settings.minDelayMs * 2 ** (attempt - 1));
  // Jitter spreads the retries of many waiting requests so they do not hit a recovering upstream at once.
  return Math.round(settings.minDelayMs + random() * Math.max(0, ceiling - settings.minDelayMs));
}

/** Retry-After as milliseconds from `now`: delta-seconds or an HTTP date (RFC 9110 10.2.3); undefined if absent or bad. */
export function parseRetryAfter(value: string | string[] | undefined, now: number): number | undefined {
  const v = Array.isArray(value) ? value[0] : value;
  if (v === undefined || v.trim() === '') return undefined;
  if (/^\s*\d+\s*$/.test(v)) return Number(v) * 1000;
  const at = Date.parse(v);
  return Number.isFinite(at) ? Math.max(0, at - now) : undefined;
}

/** Waits `ms`, or rejects with the signal's reason when it aborts first. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal?.reason);
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
