// One configured upstream registry: its connection pool, its auth (mirror or passthrough), redirects followed
// here so that clients never see a CDN URL, rate-limit headers recorded.
import type { IncomingHttpHeaders } from 'node:http';
import { request, type Dispatcher } from 'undici';
import type { UpstreamConfig } from '../config/config.js';
import { RegistryError } from '../registry/errors.js';
import { bearerChallenge, parseChallenges, type Challenge } from './challenge.js';
import { createDispatcher, type DispatcherTimeouts } from './dispatcher.js';
import { TokenCache, type Clock } from './token-cache.js';
import { fetchToken, type Credentials } from './token-fetch.js';
import { toUpstreamError } from './upstream-errors.js';
import { UpstreamHealth } from './upstream-health.js';

export interface UpstreamRequest {
  method: 'GET' | 'HEAD';
  /** Path on the upstream, starting with /v2/. */
  path: string;
  query?: URLSearchParams;
  headers?: Record<string, string>;
  /** Upstream repository name: the pull scope of the token the mirror fetches. */
  repository?: string;
  /** passthrough mode: the client's own Authorization, sent to the upstream's origin only. */
  clientAuthorization?: string;
  signal?: AbortSignal;
}

export interface UpstreamResponse {
  status: number;
  headers: IncomingHttpHeaders;
  body: Dispatcher.ResponseData['body'];
  /** The URL that finally answered (after redirects). */
  url: URL;
  /** On a 401: the bearer challenge, for passthrough mode's realm rewrite. */
  challenge?: Challenge;
}

export interface RateLimit {
  limit?: string;
  remaining?: string;
  at: number;
}

const redirectStatuses = new Set([301, 302, 303, 307, 308]);
const maxRedirects = 5;

/** Told about each upstream request, token fetch and redirect (metrics); every method is cheap and synchronous. */
export interface UpstreamObserver {
  /** Response headers arrived `seconds` after the request was sent (one hop). */
  requested(method: 'GET' | 'HEAD', seconds: number): void;
  tokenFetched(ok: boolean): void;
  redirected(): void;
  /** Manifest or blob body bytes received from this upstream (a fill reports per written batch, not per chunk). */
  received(bytes: number): void;
}

export interface UpstreamOptions {
  timeouts: DispatcherTimeouts;
  observer?: UpstreamObserver;
  clock?: Clock;
  userAgent?: string;
  /** Told when the upstream's rate-limit headers change (they are logged and, later, exported). */
  onRateLimit?: (upstream: string, rateLimit: RateLimit) => void;
  dispatcher?: Dispatcher;
}

export class Upstream {
  readonly dispatcher: Dispatcher;
  readonly origin: string;
  rateLimit: RateLimit | undefined;
  readonly health: UpstreamHealth;
  private baseChallenge: Challenge | undefined;
  private readonly tokens: TokenCache;
  /** Bearer challenges learned per origin (the upstream's and any redirect target's), to fetch tokens up front. */
  private readonly challenges = new Map<string, Challenge>();
  private readonly clock: Clock;
  private readonly userAgent: string;
  private readonly timeouts: DispatcherTimeouts;
  private readonly onRateLimit: UpstreamOptions['onRateLimit'];
  readonly observer: UpstreamObserver | undefined;

  constructor(
    readonly config: UpstreamConfig,
    options: UpstreamOptions,
  ) {
    this.clock = options.clock ?? Date.now;
    this.tokens = new TokenCache(this.clock);
    this.health = new UpstreamHealth(this.clock);
    this.timeouts = options.timeouts;
    this.dispatcher = options.dispatcher ?? createDispatcher(config, options.timeouts);
    this.origin = config.url.origin;
    this.userAgent = options.userAgent ?? 'pullgate';
    this.onRateLimit = options.onRateLimit;
    this.observer = options.observer;
  }

  get name(): string {
    return this.config.name;
  }

  get mode(): 'mirror' | 'passthrough' {
    return this.config.auth.mode;
  }

  private get credentials(): Credentials | undefined {
    const { username, password } = this.config.auth;
    return this.mode === 'mirror' && username && password !== undefined ? { username, password } : undefined;
  }

  /** Absolute URL of an upstream path, under the upstream URL's own path if it has one. */
  urlFor(path: string, query?: URLSearchParams): URL {
    const url = new URL(this.config.url.href);
    url.pathname = url.pathname.replace(/\/+$/, '') + path;
    url.search = query && [...query.keys()].length ? `?${query.toString()}` : '';
    return url;
  }

  async fetch(req: UpstreamRequest): Promise<UpstreamResponse> {
    let url = this.urlFor(req.path, req.query);
    let method: 'GET' | 'HEAD' = req.method;
    try {
      for (let hop = 0; hop <= maxRedirects; hop++) {
        const res = await this.sendAuthorized(url, method, req);
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
        if (url.origin === this.origin) this.recordRateLimit(res.headers);
        this.health.answered(res.status);
        return res;
      }
    } catch (err) {
      const e = toUpstreamError(err, this.name);
      if (!req.signal?.aborted) this.health.failed(e.message);
      throw e;
    }
    throw new RegistryError('UPSTREAM_INVALID', `upstream ${this.name} redirected more than ${maxRedirects} times`);
  }

  /** One hop: attach what this origin may see, answer one 401 with the token dance (mirror mode). */
  private async sendAuthorized(url: URL, method: 'GET' | 'HEAD', req: UpstreamRequest): Promise<UpstreamResponse> {
    const sameOrigin = url.origin === this.origin;
    if (this.mode === 'passthrough') {
      // The client's credential belongs to the upstream; a redirect host (CDN) never sees it.
      const auth = sameOrigin ? req.clientAuthorization : undefined;
      const res = await this.send(url, method, req, auth);
      if (res.status === 401 && res.challenge?.params.realm && sameOrigin) this.baseChallenge ??= res.challenge;
      return res;
    }
    const known = this.challenges.get(url.origin);
    const sent = known ? await this.tokenFor(known, req, false) : undefined;
    const res = await this.send(url, method, req, sent?.header);
    if (res.status !== 401) return res;

    const challenge = res.challenge;
    if (challenge?.scheme === 'bearer' && challenge.params.realm) {
      await res.body.dump();
      this.challenges.set(url.origin, challenge);
      if (sent && sent.key) this.tokens.invalidate(sent.key, sent.value);
      const fresh = await this.tokenFor(challenge, req, true);
      return this.send(url, method, req, fresh.header);
    }
    const basic = parseChallenges(res.headers['www-authenticate']).some((c) => c.scheme === 'basic');
    const creds = this.credentials;
    if (basic && creds && sameOrigin) {
      await res.body.dump();
      return this.send(url, method, req, `Basic ${Buffer.from(`${creds.username}:${creds.password}`).toString('base64')}`);
    }
    return res;
  }

  private async tokenFor(
    challenge: Challenge,
    req: UpstreamRequest,
    fromChallenge: boolean,
  ): Promise<{ header: string; key: string; value: string }> {
    const realm = challenge.params.realm ?? '';
    const service = challenge.params.service;
    const ownScope = req.repository ? [`repository:${req.repository}:pull`] : [];
    // Keyed by the scope this request needs, so the next request for the repository finds it without a 401.
    const key = TokenCache.key(realm, service, ownScope.length ? ownScope : (challenge.params.scope ?? '').split(' '));
    const challengeScopes = fromChallenge && challenge.params.scope ? challenge.params.scope.split(' ').filter(Boolean) : [];
    const scopes = [...new Set([...ownScope, ...challengeScopes])];
    const credentials = this.credentials;
    const token = await this.tokens.get(key, () =>
      fetchToken({
        dispatcher: this.dispatcher,
        realm,
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
      ),
    );
    return { header: `Bearer ${token.value}`, key, value: token.value };
  }

  private async send(url: URL, method: 'GET' | 'HEAD', req: UpstreamRequest, authorization?: string): Promise<UpstreamResponse> {
    const headers: Record<string, string> = {
      ...req.headers,
      'user-agent': this.userAgent,
      // Bytes are exact: digests, lengths and ranges refer to the stored bytes, never an encoding of them.
      'accept-encoding': 'identity',
    };
    if (authorization) headers.authorization = authorization;
    const sent = performance.now();
    const res = await request(url, {
      dispatcher: this.dispatcher,
      method,
      headers,
      signal: req.signal,
      headersTimeout: this.timeouts.headers,
      bodyTimeout: this.timeouts.idle,
    });
    this.observer?.requested(method, (performance.now() - sent) / 1000);
    const out: UpstreamResponse = { status: res.statusCode, headers: res.headers as IncomingHttpHeaders, body: res.body, url };
    if (res.statusCode === 401) {
      const challenge = bearerChallenge(parseChallenges(res.headers['www-authenticate']));
      if (challenge) out.challenge = challenge;
    }
    return out;
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
      const res = await this.send(this.urlFor('/v2/'), 'GET', { method: 'GET', path: '/v2/', ...(signal ? { signal } : {}) }).catch(
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
    await this.dispatcher.close();
  }
}
