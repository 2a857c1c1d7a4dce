// A Docker-style token server (https://distribution.github.io/distribution/spec/auth/token/ and the OAuth2
// variant, spec/auth/oauth/) that records every request, so tests can count how often a client asked.
import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http';
import { randomBytes } from 'node:crypto';
import { listenHttps } from './loopback-listener.js';
import type { IssuedCert } from './pki.js';
import {
  defaultAccessPolicy,
  grantAccess,
  InvalidScopeError,
  parseScopes,
  type AccessPolicy,
  type RequestedScope,
} from './token-scope.js';
import { createTokenSigner, type AccessEntry, type KeyIdMode } from './token-signer.js';

export interface TokenServerOptions {
  /** TLS certificate for the listener (SAN for `host`). */
  tls: IssuedCert;
  /** EC P-256 certificate+key that signs tokens; its CA (or itself) must be in the registry's rootcertbundle. */
  signer: IssuedCert;
  service: string;
  issuer: string;
  users?: Record<string, string> | undefined;
  /** Seconds; default 300. Can be changed later through `expiresIn`. */
  expiresIn?: number | undefined;
  host?: string;
  keyIdMode?: KeyIdMode | undefined;
  policy?: AccessPolicy;
}

export interface TokenRequestRecord {
  method: string;
  path: string;
  query: Record<string, string[]>;
  /** Request headers with the authorization value reduced to its scheme. */
  headers: IncomingHttpHeaders;
  hasAuthorization: boolean;
  /** Decoded POST form fields, secrets (password, refresh_token) replaced by `<redacted>`. */
  form?: Record<string, string[]>;
  grantType?: string;
  /** The user the request authenticated as; undefined for anonymous or rejected requests. */
  user?: string;
  scopes: RequestedScope[];
  granted: AccessEntry[];
  /** 0 until the answer has been sent. */
  status: number;
}

export interface TokenServer {
  url: string;
  /** `https://HOST:PORT/token`, for the registry's `auth.token.realm`. */
  realm: string;
  service: string;
  issuer: string;
  users: Record<string, string>;
  expiresIn: number;
  requests: TokenRequestRecord[];
  reset(): void;
  /** Signs a token directly, without an HTTP round trip or a record. */
  mint(access: AccessEntry[], subject?: string): string;
  close(): Promise<void>;
}

class Unauthorized extends Error {
  readonly code = 'UNAUTHORIZED';
}

const redacted = '<redacted>';
const maxFormBytes = 64 * 1024;

function queryRecord(params: URLSearchParams): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const [k, v] of params) (out[k] ??= []).push(v);
  return out;
}

function basicCredentials(header: string | undefined): { user: string; password: string } | undefined {
  const match = /^Basic\s+(\S+)$/i.exec(header ?? '');
  if (match?.[1] === undefined) return undefined;
  const decoded = Buffer.from(match[1], 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon < 0) throw new Unauthorized('malformed basic credentials');
  return { user: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
}

async function readForm(req: IncomingMessage): Promise<URLSearchParams> {
  let size = 0;
  const chunks: Buffer[] = [];
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > maxFormBytes) throw new Error('token request body too large');
    chunks.push(chunk);
  }
  return new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
}

function sendJson(res: ServerResponse, status: number, body: unknown, extra: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), ...extra });
  res.end(text);
}

export async function startTokenServer(opts: TokenServerOptions): Promise<TokenServer> {
  const signer = createTokenSigner({ certPem: opts.signer.certPem, keyPem: opts.signer.keyPem, issuer: opts.issuer, mode: opts.keyIdMode });
  const policy = opts.policy ?? defaultAccessPolicy;
  const refreshTokens = new Map<string, string>();

  const state: TokenServer = {
    url: '',
    realm: '',
    service: opts.service,
    issuer: opts.issuer,
    users: { ...(opts.users ?? {}) },
    expiresIn: opts.expiresIn ?? 300,
    requests: [],
    reset() {
      state.requests.length = 0;
    },
    mint(access, subject = '') {
      return signer.sign({ subject, audience: opts.service, access, expiresIn: state.expiresIn });
    },
    close: async () => undefined,
  };

  const checkPassword = (user: string, password: string): string => {
    if (state.users[user] === undefined || state.users[user] !== password) throw new Unauthorized('incorrect username or password');
    return user;
  };

  const issue = (res: ServerResponse, record: TokenRequestRecord, service: string, offline: boolean): void => {
    record.granted = grantAccess(policy, record.user, record.scopes);
    const token = signer.sign({ subject: record.user ?? '', audience: service, access: record.granted, expiresIn: state.expiresIn });
    const body: Record<string, unknown> = {
      token,
      access_token: token,
      expires_in: state.expiresIn,
      issued_at: new Date().toISOString(),
      scope: record.scopes.map((s) => `${s.type}:${s.name}:${s.actions.join(',')}`).join(' '),
    };
    // Refresh tokens identify a user, so anonymous requests never get one.
    if (offline && record.user !== undefined) {
      const refresh = randomBytes(24).toString('hex');
      refreshTokens.set(refresh, record.user);
      body['refresh_token'] = refresh;
    }
    sendJson(res, 200, body);
  };

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const url = new URL(req.url ?? '/', 'https://token.invalid');
    const headers = { ...req.headers };
    if (headers.authorization !== undefined) headers.authorization = `${headers.authorization.split(' ')[0] ?? ''} ${redacted}`;
    const record: TokenRequestRecord = {
      method: req.method ?? '',
      path: url.pathname,
      query: queryRecord(url.searchParams),
      headers,
      hasAuthorization: req.headers.authorization !== undefined,
      scopes: [],
      granted: [],
      status: 0,
    };
    state.requests.push(record);
    res.on('finish', () => (record.status = res.statusCode));
    try {
      if (url.pathname !== '/token') return sendJson(res, 404, { details: 'not found' });
      const basic = basicCredentials(req.headers.authorization);
      if (req.method === 'GET') {
        record.scopes = parseScopes(url.searchParams.getAll('scope'));
        if (basic !== undefined) record.user = checkPassword(basic.user, basic.password);
        return issue(res, record, url.searchParams.get('service') ?? opts.service, url.searchParams.get('offline_token') === 'true');
      }
      if (req.method !== 'POST') return sendJson(res, 405, { details: 'method not allowed' });
      const form = await readForm(req);
      record.form = queryRecord(form);
      for (const secret of ['password', 'refresh_token']) if (record.form[secret]) record.form[secret] = [redacted];
      record.grantType = form.get('grant_type') ?? '';
      record.scopes = parseScopes(form.getAll('scope'));
      if (record.grantType === 'password') {
        record.user = checkPassword(form.get('username') ?? basic?.user ?? '', form.get('password') ?? basic?.password ?? '');
      } else if (record.grantType === 'refresh_token') {
        const user = refreshTokens.get(form.get('refresh_token') ?? '');
        if (user === undefined) throw new Unauthorized('invalid refresh token');
        record.user = user;
      } else {
        return sendJson(res, 400, { error: 'unsupported_grant_type' });
      }
      return issue(res, record, form.get('service') ?? opts.service, form.get('access_type') === 'offline');
    } catch (err) {
      if (err instanceof Unauthorized) {
        return sendJson(res, 401, { details: err.message }, { 'www-authenticate': `Basic realm="${state.realm}"` });
      }
      if (err instanceof InvalidScopeError) return sendJson(res, 400, { details: err.message });
      throw err;
    }
  };

  const listener = await listenHttps(opts.tls, opts.host ?? '127.0.0.1', handle);
  state.url = listener.url;
  state.realm = `${listener.url}/token`;
  state.close = listener.close;
  return state;
}
