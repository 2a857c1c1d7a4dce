// One URL of an upstream: the origin, or a mirror tried before it. Each has its own connection pool (TLS and SNI
// for its own host, the upstream's CA and proxy), its own circuit breaker, and knows whether it is itself on a
// private network, which decides whether its redirects to private addresses are allowed.
import type { Dispatcher } from 'undici';
import type { UpstreamConfig } from '../config/config.js';
import { CircuitBreaker, type CircuitChange } from './circuit-breaker.js';
import { createDispatcher, upstreamTls, type DispatcherTimeouts } from './dispatcher.js';
import type { DirectConnect } from './direct/direct-connect.js';
import { checkRedirectHost, checkRedirectScheme, checkResolvedRedirectHost, isPrivateHost, privateRefusingLookup } from './redirect-guard.js';

export type EndpointRole = 'mirror' | 'origin';

export class UpstreamEndpoint {
  readonly origin: string;
  readonly breaker: CircuitBreaker;
  private guarded: Dispatcher | undefined;
  private tls: DirectConnect | undefined;
  /** The same object every time: direct-pool.ts keys idle sockets by it. */
  private guardedTls: DirectConnect | undefined;
  private privateSelf: Promise<boolean> | undefined;

  constructor(
    readonly url: URL,
    readonly role: EndpointRole,
    private readonly config: UpstreamConfig,
    private readonly timeouts: DispatcherTimeouts,
    readonly dispatcher: Dispatcher,
    clock: () => number,
    onCircuit: (endpoint: UpstreamEndpoint, change: CircuitChange) => void,
  ) {
    this.origin = url.origin;
    this.breaker = new CircuitBreaker(config.circuit, clock, (change) => onCircuit(this, change));
  }

  static create(
    url: URL,
    role: EndpointRole,
    config: UpstreamConfig,
    timeouts: DispatcherTimeouts,
    clock: () => number,
    onCircuit: (endpoint: UpstreamEndpoint, change: CircuitChange) => void,
    dispatcher?: Dispatcher,
  ): UpstreamEndpoint {
    return new UpstreamEndpoint(url, role, config, timeouts, dispatcher ?? createDispatcher({ ...config, url }, timeouts), clock, onCircuit);
  }

  /** The URL as logs and the admin show it: without any user:password in it. */
  get shown(): string {
    const u = new URL(this.url.href);
    u.username = '';
    u.password = '';
    return u.href.replace(/\/$/, '');
  }

  /** The URL of an upstream path, under this URL's own path if it has one. */
  urlFor(path: string, query?: URLSearchParams): URL {
    const url = new URL(this.url.href);
    url.pathname = url.pathname.replace(/\/+$/, '') + path;
    url.search = query && [...query.keys()].length ? `?${query.toString()}` : '';
    return url;
  }

  /**
   * The dispatcher for one hop to `target`. A hop to another origin is a redirect: unless the upstream allows it
   * or this URL is itself private, it is refused when the target is (or resolves to) a private address.
   */
  async dispatcherFor(target: URL): Promise<Dispatcher> {
    if (!(await this.guardedHop(target))) return this.dispatcher;
    this.guarded ??= createDispatcher({ ...this.config, url: this.url }, this.timeouts, privateRefusingLookup);
    return this.guarded;
  }

  /**
   * How a direct read (direct/direct-get.ts) dials `target`: the same TLS trust as the dispatchers and the same
   * private-address rule as dispatcherFor. Undefined through a proxy (direct reads dial the upstream themselves)
   * and when the operator turned direct reads off (`directReads: false`): the request goes through undici.
   */
  async connectFor(target: URL): Promise<DirectConnect | undefined> {
    if (this.config.proxy || !this.config.directReads) return undefined;
    const guarded = await this.guardedHop(target);
    this.tls ??= upstreamTls(this.config);
    if (!guarded) return this.tls;
    this.guardedTls ??= { ...this.tls, lookup: privateRefusingLookup };
    return this.guardedTls;
  }

  /**
   * The one rule of docs/security.md, "Mirror and upstream" (3) for every hop, undici's and the direct reads': throws
   * at once when an https URL's hop goes to plain http, or the target is a private literal (or, through a proxy,
   * resolves to a private address); else says whether the hop must dial through the private-address guard.
   */
  private async guardedHop(target: URL): Promise<boolean> {
    checkRedirectScheme(this.url, target);
    if (target.origin === this.origin || this.config.allowPrivateRedirects || (await this.isPrivate())) return false;
    if (this.config.proxy) {
      await checkResolvedRedirectHost(target.hostname);
      return false;
    }
    checkRedirectHost(target.hostname);
    return true;
  }

  private isPrivate(): Promise<boolean> {
    this.privateSelf ??= isPrivateHost(this.url.hostname);
    return this.privateSelf;
  }

  async close(): Promise<void> {
    await Promise.all([this.dispatcher.close(), this.guarded?.close()]);
  }
}
