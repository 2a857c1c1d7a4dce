// passthrough mode's token endpoint (`/token/<upstream>`): relays the client's GET or OAuth2 POST token request
// to the realm the upstream itself announced, with scopes mapped to upstream names, and answers with both
// `token` and `access_token` (distribution token.md, oauth.md). Client credentials pass through, never stored.
import { request } from 'undici';
import { RegistryError } from '../registry/errors.js';
import { registryAliases } from '../registry/registry-names.js';
import { formatScope, mapScopeNames, parseScopeList } from '../registry/scope.js';
import { maxTokenBodyBytes, readCappedText } from './capped-body.js';
import { forwardableAuthorization, type IsMirrorUser } from './client-credentials.js';
import { upstreamRepository } from './router.js';
import { toUpstreamError } from './upstream-errors.js';
import type { Upstream } from './upstream.js';

export interface TokenRelayRequest {
  method: 'GET' | 'POST';
  query: URLSearchParams;
  /** The POST body, form-decoded. */
  form?: URLSearchParams;
  authorization?: string;
  /** The mirror's own users: their credentials are never relayed (client-credentials.ts). */
  isMirrorUser?: IsMirrorUser;
  signal?: AbortSignal;
}

export interface TokenRelayReply {
  status: number;
  body: Record<string, unknown>;
}

const forwardedGetParams = ['service', 'account', 'offline_token', 'client_id'];
const forwardedPostParams = ['grant_type', 'service', 'client_id', 'access_type', 'username', 'password', 'refresh_token'];

export async function relayToken(upstream: Upstream, req: TokenRelayRequest): Promise<TokenRelayReply> {
  if (upstream.mode !== 'passthrough') {
    throw new RegistryError('NOT_FOUND', 'this upstream has no token endpoint on the mirror');
  }
  const isMirrorUser = req.isMirrorUser ?? (() => false);
  const source = req.method === 'GET' ? req.query : (req.form ?? new URLSearchParams());
  const formUser = req.method === 'POST' ? source.get('username') : null;
  if (formUser !== null && isMirrorUser(formUser)) {
    throw new RegistryError('UNAUTHORIZED', `credentials of this mirror's users are not sent to upstream ${upstream.name}`);
  }
  const realm = await upstream.tokenRealm(req.signal);
  // The realm passes the same checks as the mirror's own token requests (token-realm.ts, the private-address guard).
  const target = await upstream.realmTarget(realm.realm, upstream.config.url).catch((err: unknown) => {
    throw toUpstreamError(err, upstream.name);
  });
  const url = new URL(target.url.href);
  const scopes = upstreamScopes(upstream, source.getAll('scope'));
  const headers: Record<string, string> = { accept: 'application/json', 'user-agent': 'pullgate' };
  const authorization = forwardableAuthorization(req.authorization, isMirrorUser);
  if (authorization) headers.authorization = authorization;
  let body: string | undefined;
  if (req.method === 'GET') {
    for (const key of forwardedGetParams) {
      // The account names the credentials; when they stayed on the mirror, so does it.
      if (key === 'account' && req.authorization && !authorization) continue;
      const v = source.get(key);
      if (v !== null) url.searchParams.set(key, v);
    }
    if (!url.searchParams.has('service') && realm.service) url.searchParams.set('service', realm.service);
    for (const s of scopes) url.searchParams.append('scope', s);
  } else {
    const form = new URLSearchParams();
    for (const key of forwardedPostParams) {
      const v = source.get(key);
      if (v !== null) form.set(key, v);
    }
    if (!form.has('service') && realm.service) form.set('service', realm.service);
    if (scopes.length) form.set('scope', scopes.join(' '));
    body = form.toString();
    headers['content-type'] = 'application/x-www-form-urlencoded';
  }
  const res = await request(url, {
    dispatcher: target.dispatcher,
    method: req.method,
    headers,
    ...(body !== undefined ? { body } : {}),
    signal: req.signal ?? null,
  }).catch((err: unknown) => {
    const e = toUpstreamError(err, upstream.name);
    if (e instanceof RegistryError && e.code === 'UPSTREAM_INVALID') throw e;
    throw new RegistryError('UNAVAILABLE', `the token service of upstream ${upstream.name} is unreachable`, { cause: err });
  });
  if (res.statusCode !== 200) {
    await res.body.dump();
    const code = res.statusCode === 401 ? 'UNAUTHORIZED' : res.statusCode === 403 ? 'DENIED' : res.statusCode === 429 ? 'TOOMANYREQUESTS' : undefined;
    if (code) throw new RegistryError(code, 'the upstream token service refused the request');
    // 400/404/405 keep their status: containerd falls back from POST to GET on them.
    return { status: res.statusCode >= 500 ? 502 : res.statusCode, body: { errors: [{ code: 'UNKNOWN', message: `upstream token service answered ${res.statusCode}` }] } };
  }
  const text = await readCappedText(res.body, res.headers['content-length'], maxTokenBodyBytes, 'the upstream token answer');
  let parsed: Record<string, unknown>;
  try {
    parsed = JSON.parse(text) as Record<string, unknown>;
  } catch {
    throw new RegistryError('UPSTREAM_INVALID', 'the upstream token service sent invalid JSON');
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new RegistryError('UPSTREAM_INVALID', 'the upstream token service sent no token');
  }
  const token = parsed.token ?? parsed.access_token;
  if (typeof token !== 'string' || !token) throw new RegistryError('UPSTREAM_INVALID', 'the upstream token service sent no token');
  const expiresIn = typeof parsed.expires_in === 'number' && parsed.expires_in >= 60 ? parsed.expires_in : 60;
  return {
    status: 200,
    body: {
      ...parsed,
      token,
      access_token: token,
      expires_in: expiresIn,
      issued_at: typeof parsed.issued_at === 'string' ? parsed.issued_at : new Date().toISOString(),
    },
  };
}

/** Client scopes name repositories as the client sees them (`nginx`, `gcr.io/distroless/base`); map them back. */
export function upstreamScopes(upstream: Upstream, values: string[]): string[] {
  const prefixes = registryAliases(upstream.config.registry).map((r) => `${r}/`);
  const mapped = mapScopeNames(parseScopeList(values), (name) => {
    const prefix = prefixes.find((p) => name.startsWith(p));
    const bare = prefix ? name.slice(prefix.length) : name;
    try {
      return upstreamRepository(upstream, bare);
    } catch {
      return undefined;
    }
  });
  return [...new Set(mapped.map(formatScope))];
}
