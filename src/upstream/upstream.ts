// One configured upstream registry: its URLs (mirrors, then the origin) with failover, retries and a circuit
// breaker per URL, its auth (mirror or passthrough), redirects followed here so that clients never see a CDN
// URL, rate-limit headers recorded.
import type { IncomingHttpHeaders } from 'node:http';
import { request, type Dispatcher } from 'undici';
import type { UpstreamConfig } from '../config/config.js';
import { RegistryError } from '../registry/errors.js';
import { bearerChallenge, parseChallenges, type Challenge } from './challenge.js';
import type { RateLimit, UpstreamBody, UpstreamObserver, UpstreamRequest, UpstreamResponse } from './exchange.js';
import type { CircuitChange, CircuitState } from './circuit-breaker.js';
import type { DispatcherTimeouts } from './dispatcher.js';
import { directGet } from './direct/direct-get.js';
import { DirectPool } from './direct/direct-pool.js';
import { DirectSlots } from './direct/direct-slots.js';
import { fetchWithFailover } from './failover.js';
import { parseRetryAfter, sleep } from './retry-policy.js';
import { TokenCache, type Clock } from './token-cache.js';
import { isMirrorToken } from './client-credentials.js';
import { fetchToken, type Credentials } from './token-fetch.js';
import { checkedRealm } from './token-realm.js';
import { UpstreamEndpoint } from './upstream-endpoint.js';
import { toUpstreamError } from './upstream-errors.js';
import { UpstreamHealth } from './upstream-health.js';

const redirectStatuses = new Set([301, 302, 303, 307, 308]);
const maxRedirects = 5;

export interface UpstreamOptions {
  timeouts: DispatcherTimeouts;
  observer?: UpstreamObserver;
  clock?: Clock;
  userAgent?: string;
  /** Told when the upstream's rate-limit headers change (they are logged and, later, exported). */
  onRateLimit?: (upstream: string, rateLimit: RateLimit) => void;
  /** Told when the upstream's origin answers 429 (with its Retry-After in ms, when it sent one). */
  onRefused?: (upstream: string, retryAfterMs: number | undefined) => void;
  /** Told when the circuit of one of the upstream's URLs opens, half-opens or closes. */
  onCircuit?: (upstream: string, url: string, change: CircuitChange) => void;
  /** Told about every failed try of a URL: connection error, timeout, refused certificate or redirect, 5xx, 429. */
  onFailure?: (upstream: string, url: string, message: string) => void;
  /** Told when a direct read's answer is not directly readable (Transfer-Encoding) and is asked again through undici. */
  onDirectFallback?: (upstream: string, origin: string, reason: string) => void;
  /** The origin's dispatcher (tests); mirrors always get their own. */
  dispatcher?: Dispatcher;
  /** Waits between retries (tests make it instant). */
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
  random?: () => number;
}

/** One URL's state, for the admin view and metrics. */
export interface EndpointView {
  url: string;
  role: 'mirror' | 'origin';
  circuit: CircuitState;
  failures: number;
  lastFailure?: string;
}

export class Upstream {
  readonly origin: string;
  rateLimit: RateLimit | undefined;
  readonly health: UpstreamHealth;
  /** The mirrors in order, then the origin: the order every request tries them in. */
  readonly endpoints: readonly UpstreamEndpoint[];
  private readonly originEndpoint: UpstreamEndpoint;
  private baseChallenge: Challenge | undefined;
  private readonly tokens: TokenCache;
  /** Bearer challenges learned per origin (the upstream's and any redirect target's), to fetch tokens up front. */
  private readonly challenges = new Map<string, Challenge>();
  private readonly clock: Clock;
  private readonly userAgent: string;
  private readonly timeouts: DispatcherTimeouts;
  private readonly onRateLimit: UpstreamOptions['onRateLimit'];
  private readonly onRefused: UpstreamOptions['onRefused'];
  readonly observer: UpstreamObserver | undefined;
  private readonly sleep: NonNullable<UpstreamOptions['sleep']>;
  private readonly random: () => number;
  private readonly onFailure: UpstreamOptions['onFailure'];
  private readonly onDirectFallback: UpstreamOptions['onDirectFallback'];
  /** Kept connections of direct reads, for every URL of this upstream and its redirect targets. */
  readonly directPool = new DirectPool();
  /** Active direct reads per origin, bounded as undici's pool bounds its connections. */
  readonly directSlots = new DirectSlots();

  constructor(
    readonly config: UpstreamConfig,
    options: UpstreamOptions,
  ) {
    this.clock = options.clock ?? Date.now;
    this.tokens = new TokenCache(this.clock);
    this.health = new UpstreamHealth(this.clock);
    this.timeouts = options.timeouts;
    this.origin = config.url.origin;
    this.userAgent = options.userAgent ?? 'pullgate';
    this.onRateLimit = options.onRateLimit;
    this.onRefused = options.onRefused;
    this.observer = options.observer;
    this.sleep = options.sleep ?? sleep;
    this.random = options.random ?? Math.random;
    this.onFailure = options.onFailure;
    this.onDirectFallback = options.onDirectFallback;
    const onCircuit = (e: UpstreamEndpoint, change: CircuitChange) => options.onCircuit?.(config.name, e.shown, change);
    const mirrors = (config.mirrors ?? []).map((url) => UpstreamEndpoint.create(url, 'mirror', config, this.timeouts, this.clock, onCircuit));
    this.originEndpoint = UpstreamEndpoint.create(config.url, 'origin', config, this.timeouts, this.clock, onCircuit, options.dispatcher);
    this.endpoints = [...mirrors, this.originEndpoint];
  }

  get name(): string {
    return this.config.name;
  }

  get mode(): 'mirror' | 'passthrough' {
    return this.config.auth.mode;
  }

  /** The origin's connection pool (token relays and the admin's connection test talk to the origin only). */
  get dispatcher(): Dispatcher {
    return this.originEndpoint.dispatcher;
  }

  /**
   * The upstream's circuit as a whole: open when every URL's circuit is open (requests are answered at once from
   * the cache), half-open when none is closed and one may be probed, else closed.
   */
  get circuit(): CircuitState {
    const states = this.endpoints.map((e) => e.breaker.state);
    if (states.includes('closed')) return 'closed';
    return states.includes('half-open') ? 'half-open' : 'open';
  }

  endpointViews(): EndpointView[] {
    return this.endpoints.map((e) => ({
      url: e.shown,
      role: e.role,
      circuit: e.breaker.state,
      failures: e.breaker.failures,
      ...(e.breaker.lastReason !== undefined ? { lastFailure: e.breaker.lastReason } : {}),
    }));
  }

  private get credentials(): Credentials | undefined {
    const { username, password } = this.config.auth;
    return this.mode === 'mirror' && username && password !== undefined ? { username, password } : undefined;
  }

  /** Absolute URL of an upstream path on the origin, under the upstream URL's own path if it has one. */
  urlFor(path: string, query?: URLSearchParams): URL {
    return this.originEndpoint.urlFor(path, query);
  }

  /**
   * One idempotent request through the upstream's URLs with failover, retries and circuit breakers (failover.ts).
   * Only response headers have been read when this returns: no body byte has reached a client before a retry.
   */
  fetch(req: UpstreamRequest): Promise<UpstreamResponse> {
    return fetchWithFailover(this.endpoints, (endpoint) => this.fetchVia(endpoint, req), {
      upstream: this.name,
      retries: this.config.retries,
      health: this.health,
      clock: this.clock,
      sleep: this.sleep,
      random: this.random,
      ...(req.signal ? { signal: req.signal } : {}),
      onFailure: (url, message) => this.onFailure?.(this.name, url, message),
    });
  }

  /**
   * One GET of a URL an earlier `fetch` was redirected to (a segmented fill's Range requests, docs/segmented-fills.md):
   * one hop, no failover and no redirect followed, credentials only if it is the origin. `via` is that answer's
   * (UpstreamResponse.via): the hop is judged by the settings of the URL that was redirected, a plain-http mirror
   * URL's CDN included (docs/security.md, "Mirror and upstream"). The caller asks `fetch` again when the URL has expired.
   */
  async fetchResolved(url: URL, req: UpstreamRequest, via?: string): Promise<UpstreamResponse> {
    const endpoint = this.endpoints.find((e) => e.origin === (via ?? url.origin)) ?? this.endpoints.find((e) => e.origin === url.origin) ?? this.originEndpoint;
    try {
      return await this.sendAuthorized(endpoint, url, 'GET', req);
    } catch (err) {
      throw toUpstreamError(err, this.name);
    }
  }

  /** One URL, following redirects inside the mirror so that clients never see a CDN URL. */
  private async fetchVia(endpoint: UpstreamEndpoint, req: UpstreamRequest): Promise<UpstreamResponse> {
    let url = endpoint.urlFor(req.path, req.query);
    let method: 'GET' | 'HEAD' = req.method;
    for (let hop = 0; hop <= maxRedirects; hop++) {
      const res = await this.sendAuthorized(endpoint, url, method, req);
      if (redirectStatuses.has(res.status) && res.headers.location) {
        await res.body.dump();
        url = new URL(String(res.headers.location), url);
        if (url.protocol !== 'https:' && url.protocol !== 'http:') {
          throw new RegistryError('UPSTREAM_INVALID', 'upstream redirected to a non-http URL');
        }
        if (res.status === 303 && method !== 'HEAD') method = 'GET';
        this.observer?.redirected();
        continue;
      }
      if (endpoint === this.originEndpoint && url.origin === this.origin) {
        this.recordRateLimit(res.headers);
        // Over quota: whoever budgets background work hears it, whichever request met it (docs/watch.md).
        if (res.status === 429) this.onRefused?.(this.name, parseRetryAfter(res.headers['retry-after'], this.clock()));
      }
      return res;
    }
    throw new RegistryError('UPSTREAM_INVALID', `upstream ${this.name} redirected more than ${maxRedirects} times`);
  }

  /**
   * One hop: attach what this origin may see, answer one 401 with the token dance (mirror mode). The configured
   * credentials, and tokens fetched with them, go to the origin and the realm the origin announced only; a
   * redirect host (CDN) or a mirror URL that answers 401 gets at most an anonymous token from the realm it
   * announced itself (registry.k8s.io's redirects to Artifact Registry need one). docs/security.md, "Mirror and
   * upstream".
   */
  private async sendAuthorized(endpoint: UpstreamEndpoint, url: URL, method: 'GET' | 'HEAD', req: UpstreamRequest): Promise<UpstreamResponse> {
    const sameOrigin = url.origin === this.origin && endpoint === this.originEndpoint;
    if (this.mode === 'passthrough') {
      // The client's credentials belong to the origin too; the mirror's own tokens never leave it (client-credentials.ts).
      const auth = sameOrigin && !isMirrorToken(req.clientAuthorization) ? req.clientAuthorization : undefined;
      const res = await this.send(endpoint, url, method, req, auth);
      if (res.status === 401 && res.challenge?.params.realm && sameOrigin) this.baseChallenge ??= res.challenge;
      return res;
    }
    const known = this.challenges.get(url.origin);
    const sent = known ? await this.tokenFor(endpoint, url, known, req, false, sameOrigin) : undefined;
    const res = await this.send(endpoint, url, method, req, sent?.header);
    if (res.status !== 401) return res;

    const challenge = res.challenge;
    if (challenge?.scheme === 'bearer' && challenge.params.realm) {
      await res.body.dump();
      if (sent && sent.key) this.tokens.invalidate(sent.key, sent.value);
      const fresh = await this.tokenFor(endpoint, url, challenge, req, true, sameOrigin);
      // Remembered once it yielded a token: a refused realm is never tried up front again.
      this.challenges.set(url.origin, challenge);
      return this.send(endpoint, url, method, req, fresh.header);
    }
    const basic = parseChallenges(res.headers['www-authenticate']).some((c) => c.scheme === 'basic');
    const creds = this.credentials;
    if (basic && creds && sameOrigin) {
      await res.body.dump();
      return this.send(endpoint, url, method, req, `Basic ${Buffer.from(`${creds.username}:${creds.password}`).toString('base64')}`);
    }
    return res;
  }

  /**
   * The realm a challenge from `announcedBy` named, checked (token-realm.ts: http(s), never plain http from https)
   * with the dispatcher that may reach it: the private-address guard of redirects applies unless the upstream is
   * itself private or allows private redirects.
   */
  async realmTarget(realm: string, announcedBy: URL, endpoint: UpstreamEndpoint = this.originEndpoint): Promise<{ url: URL; dispatcher: Dispatcher }> {
    const url = checkedRealm(realm, announcedBy);
    return { url, dispatcher: await endpoint.dispatcherFor(url) };
  }

  private async tokenFor(
    endpoint: UpstreamEndpoint,
    announcedBy: URL,
    challenge: Challenge,
    req: UpstreamRequest,
    fromChallenge: boolean,
    withCredentials: boolean,
  ): Promise<{ header: string; key: string; value: string }> {
    const realm = challenge.params.realm ?? '';
    const service = challenge.params.service;
    const ownScope = req.repository ? [`repository:${req.repository}:pull`] : [];
    // Keyed by the scope this request needs, so the next request for the repository finds it without a 401.
    const scopeKey = TokenCache.key(realm, service, ownScope.length ? ownScope : (challenge.params.scope ?? '').split(' '));
    // An anonymous token (a mirror URL's, a redirect host's) never stands in for one fetched with the credentials.
    const key = withCredentials ? scopeKey : `anonymous ${scopeKey}`;
    const challengeScopes = fromChallenge && challenge.params.scope ? challenge.params.scope.split(' ').filter(Boolean) : [];
    const scopes = [...new Set([...ownScope, ...challengeScopes])];
    const credentials = withCredentials ? this.credentials : undefined;
    const token = await this.tokens.get(key, async () => {
      const target = await this.realmTarget(realm, announcedBy, endpoint);
      return fetchToken({
        dispatcher: target.dispatcher,
        realm: target.url.href,
        service,
        scopes,
        ...(credentials ? { credentials } : {}),
        now: this.clock,
        ...(req.signal ? { signal: req.signal } : {}),
      }).then(
        (t) => {
          this.observer?.tokenFetched(true);
          return t;
        },
        (err: unknown) => {
          this.observer?.tokenFetched(false);
          throw err;
        },
      );
    });
    return { header: `Bearer ${token.value}`, key, value: token.value };
  }

  private async send(
    endpoint: UpstreamEndpoint,
    url: URL,
    method: 'GET' | 'HEAD',
    req: UpstreamRequest,
    authorization?: string,
  ): Promise<UpstreamResponse> {
    const headers: Record<string, string> = {
      ...req.headers,
      'user-agent': this.userAgent,
      // Bytes are exact: digests, lengths and ranges refer to the stored bytes, never an encoding of them.
      'accept-encoding': 'identity',
    };
    if (authorization) headers.authorization = authorization;
    const sent = performance.now();
    const res = await this.exchange(endpoint, url, method, req, headers);
    this.observer?.requested(method, (performance.now() - sent) / 1000);
    const out: UpstreamResponse = { ...res, url, via: endpoint.origin };
    if (res.status === 401) {
      const challenge = bearerChallenge(parseChallenges(res.headers['www-authenticate']));
      if (challenge) out.challenge = challenge;
    }
    return out;
  }

  /**
   * One hop's answer, head read: straight from the socket when the caller reads the body as chunks and the hop
   * allows it (a GET, no proxy; docs/architecture.md, "Decision: blobs stream, verify, then commit"), else through
   * undici. An answer the direct reader does not frame (Transfer-Encoding) is asked again through undici.
   */
  private async exchange(
    endpoint: UpstreamEndpoint,
    url: URL,
    method: 'GET' | 'HEAD',
    req: UpstreamRequest,
    headers: Record<string, string>,
  ): Promise<{ status: number; headers: IncomingHttpHeaders; body: UpstreamBody }> {
    const signal = req.signal ? { signal: req.signal } : {};
    const connect = req.direct && method === 'GET' && /^https?:$/.test(url.protocol) ? await endpoint.connectFor(url) : undefined;
    if (connect) {
      const answer = await directGet({ url, headers, connect, timeouts: this.timeouts, pool: this.directPool, ...(req.segment ? {} : { slots: this.directSlots }), ...signal });
      if (answer.kind === 'response') return { status: answer.status, headers: answer.headers, body: answer.body };
      this.onDirectFallback?.(this.name, url.origin, answer.reason);
    }
    const res = await request(url, {
      dispatcher: await endpoint.dispatcherFor(url),
      method,
      headers,
      signal: req.signal ?? null,
      headersTimeout: this.timeouts.headers,
      bodyTimeout: this.timeouts.idle,
    });
    return { status: res.statusCode, headers: res.headers as IncomingHttpHeaders, body: res.body };
  }

  private recordRateLimit(headers: IncomingHttpHeaders): void {
    const limit = headers['ratelimit-limit'];
    const remaining = headers['ratelimit-remaining'];
    if (limit === undefined && remaining === undefined) return;
    const previous = this.rateLimit;
    this.rateLimit = {
      ...(limit !== undefined ? { limit: String(limit) } : {}),
      ...(remaining !== undefined ? { remaining: String(remaining) } : {}),
      at: this.clock(),
    };
    if (previous?.limit !== this.rateLimit.limit || previous?.remaining !== this.rateLimit.remaining) {
      this.onRateLimit?.(this.name, this.rateLimit);
    }
  }

  /**
   * The realm and service this upstream's `/v2/` challenge announces (learned once, then kept): the only realm
   * passthrough mode relays token requests to.
   */
  async tokenRealm(signal?: AbortSignal): Promise<{ realm: string; service?: string }> {
    if (!this.baseChallenge) {
      const res = await this.send(this.originEndpoint, this.urlFor('/v2/'), 'GET', { method: 'GET', path: '/v2/', ...(signal ? { signal } : {}) }).catch(
        (err: unknown) => {
          throw toUpstreamError(err, this.name);
        },
      );
      await res.body.dump();
      if (res.challenge?.params.realm) this.baseChallenge = res.challenge;
    }
    const realm = this.baseChallenge?.params.realm;
    if (!realm) throw new RegistryError('NOT_FOUND', `upstream ${this.name} announces no token realm`);
    const service = this.baseChallenge?.params.service;
    return service ? { realm, service } : { realm };
  }

  /** The service value of the upstream's challenge, for the mirror's own `/v2/` challenge in passthrough mode. */
  async baseService(signal?: AbortSignal): Promise<string | undefined> {
    return (await this.tokenRealm(signal)).service;
  }

  async close(): Promise<void> {
    this.directPool.close();
    await Promise.all(this.endpoints.map((e) => e.close()));
  }
}
