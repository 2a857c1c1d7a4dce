// Who may pull what (docs/clients.md, "Who may pull what"): the client's address against allow/deny lists (per
// upstream, else global), a login with Pullgate's own users where required, a request rate per client, and the
// repository policy, all decided before any upstream request. Denials are OCI errors: DENIED for addresses and policy,
// UNAUTHORIZED with a challenge naming the mirror's own token endpoint, TOOMANYREQUESTS with Retry-After.
import type { AccessConfig, UpstreamConfig } from '../config/config.js';
import { RegistryError } from '../registry/errors.js';
import { formatChallenge } from '../upstream/challenge.js';
import { LoginLimiter } from './login-limiter.js';
import { AddressList, unmapped } from '../config/address-list.js';
import { clientAddress } from './client-address.js';
import type { ClientLimits } from './client-limits.js';
import type { RegistryTokens } from './registry-tokens.js';
import type { RegistryUsers } from './registry-users.js';
import { RepositoryPolicy } from '../config/repository-policy.js';

/** The service name in the mirror's own challenges and tokens. */
export const tokenService = 'pullgate';
export const tokenPath = '/auth/token';

export interface ClientRequest {
  peer: string | undefined;
  forwardedFor: string | string[] | undefined;
  authorization: string | undefined;
}

export interface Admitted {
  /** The address the rules were applied to. */
  address: string;
  /** The logged-in user, when there is one. */
  user?: string;
  /** What per-client limits count against: the user, else the address. */
  key: string;
}

interface Rules {
  allow: AddressList;
  deny: AddressList;
  login: 'off' | 'required';
  policy: RepositoryPolicy;
}

export class AccessControl {
  private readonly trusted: AddressList;
  private readonly globalRules: Rules;
  /** Rules per upstream settings object: built once per (live) upstream configuration. */
  private readonly rules = new WeakMap<UpstreamConfig, Rules>();

  constructor(
    config: AccessConfig,
    readonly users: RegistryUsers,
    readonly tokens: RegistryTokens,
    readonly limits: ClientLimits,
    /** Password guesses per client (the token endpoint and Basic credentials), counted before each check. */
    readonly loginAttempts: LoginLimiter = new LoginLimiter(),
  ) {
    this.trusted = new AddressList(config.trustedProxies);
    this.globalRules = { allow: new AddressList(config.allow), deny: new AddressList(config.deny), login: config.login, policy: new RepositoryPolicy({}) };
  }

  address(req: Pick<ClientRequest, 'peer' | 'forwardedFor'>): string {
    return clientAddress(req.peer, req.forwardedFor, this.trusted);
  }

  /**
   * Network rules, login and request rate for a request to `upstream` (undefined: no upstream answers here, the
   * global rules apply). `baseUrl` is the mirror as the client reached it, for the login challenge.
   */
  async admit(req: ClientRequest, upstream: UpstreamConfig | undefined, baseUrl: string): Promise<Admitted> {
    const rules = this.rulesFor(upstream);
    const address = this.address(req);
    this.checkAddress(rules, address);
    // Passthrough upstreams carry the client's own upstream credential in Authorization (validated at config time).
    const login = upstream?.auth.mode === 'passthrough' ? 'off' : rules.login;
    const user = login === 'required' ? await this.login(req.authorization, address, baseUrl) : undefined;
    const key = user ? `user:${user}` : address;
    this.takeRequest(key);
    return { address, key, ...(user ? { user } : {}) };
  }

  /**
   * The token endpoint's admission, before any credential is read: the global address rules and the client's
   * request rate, as for every registry request (docs/security.md).
   */
  admitTokenRequest(req: Pick<ClientRequest, 'peer' | 'forwardedFor'>): { address: string } {
    const address = this.address(req);
    this.checkAddress(this.globalRules, address);
    this.takeRequest(address);
    return { address };
  }

  /**
   * A username and password from `address`: the user when they match. Each check counts against the client's
   * login attempts before it runs (a pair verified in the last minute costs nothing and counts nothing); a client
   * out of attempts gets TOOMANYREQUESTS, whatever the password.
   */
  async checkPassword(address: string, username: string, password: string): Promise<string | undefined> {
    // A client out of attempts is refused before any comparison, remembered pairs included (no free guesses).
    const blocked = this.loginAttempts.retryAfter(address);
    if (blocked === 0 && this.users.remembered(username, password)) return username;
    const wait = blocked || this.loginAttempts.attempt(address, username);
    if (wait > 0) {
      throw new RegistryError('TOOMANYREQUESTS', `too many failed logins from this client; retry in ${wait} s`, { headers: { 'retry-after': String(wait) } });
    }
    if (!(await this.users.verify(username, password))) return undefined;
    this.loginAttempts.succeeded(address, username);
    return username;
  }

  private checkAddress(rules: Rules, address: string): void {
    if (rules.deny.has(address) || (rules.allow.size > 0 && !rules.allow.has(address))) {
      throw new RegistryError('DENIED', 'this address may not pull from this mirror');
    }
  }

  private takeRequest(key: string): void {
    const wait = this.limits.take(key);
    if (wait > 0) {
      throw new RegistryError('TOOMANYREQUESTS', `too many requests from this client; retry in ${wait} s`, { headers: { 'retry-after': String(wait) } });
    }
  }

  /**
   * TLS passthrough connections carry no HTTP: only the global address rules apply, to the socket's peer (no
   * X-Forwarded-For can be read from encrypted bytes).
   */
  admitsConnection(peer: string | undefined): boolean {
    const address = unmapped(peer ?? '');
    const r = this.globalRules;
    return !r.deny.has(address) && (r.allow.size === 0 || r.allow.has(address));
  }

  /** The repository policy, before any upstream request; a digest request is judged by its repository. */
  checkPolicy(upstream: UpstreamConfig, repository: string, tag: string | undefined): void {
    const reason = this.rulesFor(upstream).policy.denies(repository, tag);
    if (reason) throw new RegistryError('DENIED', `pulling ${repository} is not allowed on this mirror (${reason})`);
  }

  /** The user behind Basic credentials from `address` (for the token endpoint and direct Basic requests). */
  async basicUser(authorization: string | undefined, address: string): Promise<string | undefined> {
    const c = basicCredentials(authorization);
    return c ? this.checkPassword(address, c.username, c.password) : undefined;
  }

  challenge(baseUrl: string): string {
    return formatChallenge({ scheme: 'bearer', params: { realm: `${baseUrl.replace(/\/+$/, '')}${tokenPath}`, service: tokenService } });
  }

  private async login(authorization: string | undefined, address: string, baseUrl: string): Promise<string> {
    const bearer = /^Bearer\s+(\S+)$/i.exec(authorization?.trim() ?? '')?.[1];
    // A token names a user; it works only while that user exists.
    const named = bearer ? this.tokens.verify(bearer) : undefined;
    const user = bearer ? (named !== undefined && this.users.exists(named) ? named : undefined) : await this.basicUser(authorization, address);
    if (user) return user;
    throw new RegistryError('UNAUTHORIZED', authorization ? 'invalid or expired credentials' : 'log in to pull from this mirror', {
      headers: { 'www-authenticate': this.challenge(baseUrl) },
    });
  }

  private rulesFor(upstream: UpstreamConfig | undefined): Rules {
    if (!upstream) return this.globalRules;
    let rules = this.rules.get(upstream);
    if (!rules) {
      const a = upstream.access ?? {};
      rules = {
        allow: a.allow ? new AddressList(a.allow) : this.globalRules.allow,
        deny: a.deny ? new AddressList(a.deny) : this.globalRules.deny,
        login: a.login ?? this.globalRules.login,
        policy: new RepositoryPolicy(upstream.policy ?? {}),
      };
      this.rules.set(upstream, rules);
    }
    return rules;
  }
}

/** `Authorization: Basic ...` as a username and password, or undefined. */
export function basicCredentials(authorization: string | undefined): { username: string; password: string } | undefined {
  const m = /^Basic\s+([A-Za-z0-9+/=]+)$/i.exec(authorization?.trim() ?? '');
  if (!m?.[1]) return undefined;
  const decoded = Buffer.from(m[1], 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon <= 0) return undefined;
  return { username: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
}
