// Failover, retries and circuit breakers for one upstream request (docs/configuration.md, "Upstream resilience"). The
// URLs are tried in order (mirrors, then the origin); a URL whose circuit is open is skipped at once. A connection
// error, timeout, 5xx or 429 moves the request to the next URL; when every URL failed and the failure is transient, the
// whole round is tried again after a backoff. A mirror's 404 moves on without counting as a failure: a regional mirror
// may legitimately lack a tag or an image pushed since its last sync, while the origin's 404 is the answer.
import { RegistryError } from '../registry/errors.js';
import { parseRetryAfter, retryDelay, type RetrySettings } from './retry-policy.js';
import type { UpstreamEndpoint } from './upstream-endpoint.js';
import { isTransientUpstreamError, toUpstreamError } from './upstream-errors.js';
import type { UpstreamHealth } from './upstream-health.js';
import type { UpstreamResponse } from './exchange.js';

export interface FailoverOptions {
  upstream: string;
  retries: RetrySettings;
  health: UpstreamHealth;
  clock: () => number;
  sleep: (ms: number, signal?: AbortSignal) => Promise<void>;
  random: () => number;
  signal?: AbortSignal;
  /** Told about every failed try (logged: a refused certificate must be visible even when the cache answers). */
  onFailure?: (url: string, message: string) => void;
}

type Round = { kind: 'answer'; res: UpstreamResponse } | { kind: 'failed'; transient: boolean; res?: UpstreamResponse; error: Error };

export async function fetchWithFailover(
  endpoints: readonly UpstreamEndpoint[],
  send: (endpoint: UpstreamEndpoint) => Promise<UpstreamResponse>,
  o: FailoverOptions,
): Promise<UpstreamResponse> {
  for (let attempt = 1; ; attempt++) {
    const round = await tryEach(endpoints, send, o);
    if (round.kind === 'answer') return round.res;
    const retryAfter = round.res ? parseRetryAfter(round.res.headers['retry-after'], o.clock()) : undefined;
    const delay = round.transient && !o.signal?.aborted ? retryDelay(o.retries, attempt, retryAfter, o.random) : undefined;
    // No further try: the last upstream answer (5xx, 429 with its Retry-After) goes to the client, or the error.
    if (delay === undefined) {
      if (round.res) return round.res;
      throw round.error;
    }
    await round.res?.body.dump().catch(() => undefined);
    await o.sleep(delay, o.signal);
  }
}

/** Every URL once, in order. The last failure is kept: a response (5xx, 429) to pass on, or an error. */
async function tryEach(
  endpoints: readonly UpstreamEndpoint[],
  send: (endpoint: UpstreamEndpoint) => Promise<UpstreamResponse>,
  o: FailoverOptions,
): Promise<Round> {
  let last: { res?: UpstreamResponse; error: Error; transient: boolean } | undefined;
  let skipped: UpstreamEndpoint | undefined;
  const drop = async () => last?.res?.body.dump().catch(() => undefined);
  for (const [i, endpoint] of endpoints.entries()) {
    const isLast = i === endpoints.length - 1;
    const permit = endpoint.breaker.tryAcquire();
    if (!permit) {
      skipped ??= endpoint;
      continue;
    }
    let res: UpstreamResponse;
    try {
      res = await send(endpoint);
    } catch (err) {
      const e = toUpstreamError(err, o.upstream);
      if (o.signal?.aborted || e.name === 'AbortError') {
        // The client left: no verdict on the URL.
        permit.release();
        throw e;
      }
      permit.failure(e.message);
      o.health.failed(e.message);
      o.onFailure?.(endpoint.shown, e.message);
      await drop();
      last = { error: e, transient: isTransientUpstreamError(e) };
      continue;
    }
    o.health.answered(res.status);
    if (res.status >= 500 || res.status === 429) {
      permit.failure(`HTTP ${res.status}`);
      o.onFailure?.(endpoint.shown, `HTTP ${res.status}`);
      await drop();
      // A 5xx is worth another round; a 429 only when its Retry-After says how long (retryDelay judges it).
      const transient = res.status !== 429 || res.headers['retry-after'] !== undefined;
      last = { res, error: new RegistryError('UNAVAILABLE', `upstream ${o.upstream} answered ${res.status}`), transient };
      continue;
    }
    permit.success();
    if (res.status === 404 && !isLast) {
      await res.body.dump().catch(() => undefined);
      continue;
    }
    await drop();
    return { kind: 'answer', res };
  }
  if (last) return { kind: 'failed', ...last };
  return { kind: 'failed', transient: false, error: circuitOpen(skipped ?? endpoints[endpoints.length - 1], o) };
}

/** Every URL's circuit is open: the answer comes at once, so the cache covers what it can without waiting. */
function circuitOpen(endpoint: UpstreamEndpoint | undefined, o: FailoverOptions): RegistryError {
  const breaker = endpoint?.breaker;
  const retryAt = breaker?.retryAt;
  const last = breaker?.lastReason ? ` (last: ${breaker.lastReason})` : '';
  const next = retryAt !== undefined ? `; next try in ${Math.max(0, Math.ceil((retryAt - o.clock()) / 1000))} s` : '';
  return new RegistryError(
    'UNAVAILABLE',
    `upstream ${o.upstream} is unavailable: circuit open after ${breaker?.failures ?? 0} consecutive failures${last}${next}`,
    { detail: { upstream: o.upstream, circuit: 'open' } },
  );
}
