// Fetching a bearer token from an upstream realm the way Docker and containers/image do (distribution
// token.md "Requesting a Token"): GET, repeated `scope`, Basic auth + `account` when credentials are set.
import { request, type Dispatcher } from 'undici';
import { RegistryError } from '../registry/errors.js';
import { maxTokenBodyBytes, readCappedText } from './capped-body.js';
import type { Token } from './token-cache.js';

export interface Credentials {
  username: string;
  password: string;
}

export interface TokenResponse {
  token?: string;
  access_token?: string;
  expires_in?: number;
  issued_at?: string;
  refresh_token?: string;
}

/** distribution token.md: expires_in defaults to 60 s and should never be less. */
export const minimumTokenLifetimeMs = 60_000;
/** Tokens are dropped this long before they expire so that a request in flight does not carry a dead one. */
const expirySkewMs = 10_000;

export interface FetchTokenOptions {
  dispatcher: Dispatcher;
  realm: string;
  service: string | undefined;
  scopes: string[];
  credentials?: Credentials;
  now: () => number;
  signal?: AbortSignal;
}

export async function fetchToken(o: FetchTokenOptions): Promise<Token> {
  let url: URL;
  try {
    url = new URL(o.realm);
  } catch {
    throw new RegistryError('UPSTREAM_INVALID', 'upstream announced an invalid token realm');
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') {
    throw new RegistryError('UPSTREAM_INVALID', 'upstream announced a token realm that is not http(s)');
  }
  // Query parameters already in the realm are kept, as every client does.
  if (o.service) url.searchParams.set('service', o.service);
  for (const scope of o.scopes) url.searchParams.append('scope', scope);
  const headers: Record<string, string> = { accept: 'application/json' };
  if (o.credentials) {
    url.searchParams.set('account', o.credentials.username);
    headers.authorization = `Basic ${Buffer.from(`${o.credentials.username}:${o.credentials.password}`).toString('base64')}`;
  }
  const res = await request(url, { dispatcher: o.dispatcher, method: 'GET', headers, signal: o.signal ?? null });
  // A refusal's body is not needed: dumped (undici caps that); an answer is read with a cap (capped-body.ts).
  if (res.statusCode !== 200) await res.body.dump();
  if (res.statusCode === 401 || res.statusCode === 403) {
    throw new RegistryError('DENIED', 'the upstream token service refused the configured credentials', {
      detail: { upstreamStatus: res.statusCode },
    });
  }
  if (res.statusCode === 429) throw new RegistryError('TOOMANYREQUESTS', 'the upstream token service is rate limiting');
  if (res.statusCode !== 200) {
    throw new RegistryError('UNAVAILABLE', `the upstream token service answered ${res.statusCode}`);
  }
  const text = await readCappedText(res.body, res.headers['content-length'], maxTokenBodyBytes, 'the upstream token answer');
  return parseTokenResponse(text, o.now());
}

export function parseTokenResponse(text: string, now: number): Token {
  let body: TokenResponse;
  try {
    body = JSON.parse(text) as TokenResponse;
  } catch {
    throw new RegistryError('UPSTREAM_INVALID', 'the upstream token service sent invalid JSON');
  }
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw new RegistryError('UPSTREAM_INVALID', 'the upstream token service sent no token');
  }
  const value = body.token || body.access_token;
  if (typeof value !== 'string' || value === '') {
    throw new RegistryError('UPSTREAM_INVALID', 'the upstream token service sent no token');
  }
  const lifetimeMs = Math.max(minimumTokenLifetimeMs, typeof body.expires_in === 'number' ? body.expires_in * 1000 : 0);
  const issued = body.issued_at ? Date.parse(body.issued_at) : NaN;
  // A skewed upstream clock must not make a token look expired (or eternal): trust issued_at only near now.
  const start = Number.isFinite(issued) && Math.abs(issued - now) < 300_000 ? issued : now;
  return { value, expiresAt: start + lifetimeMs - expirySkewMs };
}
