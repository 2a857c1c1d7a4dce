// A registry that attacks the mirror instead of failing by accident (the fault fake, fake-upstream.ts, fails by
// accident): its challenges name realms on other hosts, on plain http or at private addresses; its "CDN" answers
// 401 with a realm of its own; its token and error bodies are huge; it lies in Content-Length; it sends tag lists
// as HTML; it serves manifests naming digests it never serves. Every knob is off until a test turns it on.
//
// Three listeners, each recording every request with its headers:
// - `registry`: the registry (HTTPS with `tls`, else HTTP), with a token endpoint at /token;
// - `elsewhere`: another host of the same scheme: a second token endpoint and the CDN blobs redirect to;
// - `plain`: always plain HTTP: a token endpoint for the plain-http realm knob.
// `names` gives the registry and elsewhere public-looking host names (resolved by a test's proxy, connect-proxy.ts),
// so that the mirror treats the upstream as public and its private-address guard applies. The registry accepts
// only tokens issued by the realm currently in force, so a change of realm is noticed by a client holding tokens.
//
//   const up = await new HostileUpstream({ users: { puller: 'pw' } }).start();
//   up.addImage('library/app', '1', [layer]);
//   up.hostility = { realm: 'elsewhere', cdnAnswers401: true };
//   ... pull through the mirror, then: up.authorizedAt('elsewhere'), up.issued.get(token)?.withCredentials
//   up.reset(); // between tests: forgets requests and hostility, keeps content and issued tokens
import { createHash, randomBytes } from 'node:crypto';
import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';

export type HostName = 'registry' | 'elsewhere' | 'plain';

export interface HostileRequest {
  host: HostName;
  method: string;
  path: string;
  query: URLSearchParams;
  headers: IncomingMessage['headers'];
}

export interface Hostility {
  /**
   * The realm in the registry's bearer challenge: its own /token, the elsewhere host's, the plain-http listener's
   * (for an HTTPS registry, a downgrade), or any absolute URL (a private address, say). Default: 'own'.
   */
  realm?: 'own' | 'elsewhere' | 'plain-http' | { url: string };
  /**
   * Manifest and blob GETs redirect (307) to the plain-http listener, with a signed-URL-like query
   * (`?signature=<downgradeSecret>`); the plain listener serves the same content there (a downgrade to plain http).
   */
  downgrade?: boolean;
  /** The registry's own token endpoint redirects (307) to the plain-http listener's. */
  tokenRedirectsToPlain?: boolean;
  /** Blob GET/HEAD redirect to the elsewhere host, which answers 401 with a bearer realm on itself (a hostile CDN). */
  cdnAnswers401?: boolean;
  /** Token answers are valid JSON padded to at least this many bytes; Infinity: a body that never ends. */
  tokenBodyBytes?: number;
  /** Error answers (401, 404, 5xx) are padded to at least this many bytes; Infinity: a body that never ends. */
  errorBodyBytes?: number;
  /** Token, error and list answers announce this Content-Length, whatever they send, then close the connection. */
  contentLengthLie?: number;
  /** tags/list and referrers answers use this Content-Type (e.g. text/html) ... */
  listContentType?: string;
  /** ... and this body (default: a tag list whose tag is an HTML script). */
  listBody?: string;
}

export interface HostileOptions {
  /** HTTPS for registry and elsewhere (a certificate for their names and 127.0.0.1). */
  tls?: { certPem: string; keyPem: string };
  /** Host names put into the URLs of registry and elsewhere instead of 127.0.0.1. */
  names?: { registry?: string; elsewhere?: string };
  /** Basic credentials every token endpoint accepts; without them a token request is anonymous. */
  users?: Record<string, string>;
  /** Require a bearer token on /v2/ requests (default true). */
  auth?: boolean;
}

/** The query secret of a downgrade redirect's Location: it must never reach a log or a client. */
export const downgradeSecret = 'SIGNED-URL-SECRET-0123456789';

export const htmlTagList = JSON.stringify({ name: 'x', tags: ['<script>alert(document.domain)</script>'] });

export class HostileUpstream {
  hostility: Hostility = {};
  readonly requests: HostileRequest[] = [];
  readonly manifests = new Map<string, { bytes: Buffer; mediaType: string; digest: string }>(); // `repo:ref` ->
  readonly blobs = new Map<string, Buffer>();
  /** Tokens issued, with whether the request that got one carried credentials. */
  readonly issued = new Map<string, { host: HostName; withCredentials: boolean }>();
  url = '';
  elsewhereUrl = '';
  plainUrl = '';
  private readonly servers: Server[] = [];

  constructor(readonly options: HostileOptions = {}) {}

  async start(): Promise<this> {
    const scheme = this.options.tls ? 'https' : 'http';
    const make = (host: HostName, secure: boolean): Server => {
      const handler = (req: IncomingMessage, res: ServerResponse) => this.handle(host, req, res);
      const server = secure && this.options.tls ? createHttpsServer({ cert: this.options.tls.certPem, key: this.options.tls.keyPem }, handler) : createHttpServer(handler);
      this.servers.push(server);
      return server;
    };
    const registryPort = await listen(make('registry', true));
    const elsewherePort = await listen(make('elsewhere', true));
    const plainPort = await listen(make('plain', false));
    this.url = `${scheme}://${this.options.names?.registry ?? '127.0.0.1'}:${registryPort}`;
    this.elsewhereUrl = `${scheme}://${this.options.names?.elsewhere ?? '127.0.0.1'}:${elsewherePort}`;
    this.plainUrl = `http://127.0.0.1:${plainPort}`;
    return this;
  }

  async stop(): Promise<void> {
    for (const s of this.servers) {
      s.closeAllConnections();
      await new Promise((r) => s.close(r));
    }
  }

  /** An image (config + one layer per buffer) under `repo:tag`; returns the manifest's digest. */
  addImage(repo: string, tag: string, layers: Buffer[]): string {
    const config = Buffer.from('{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}');
    this.blobs.set(sha256(config), config);
    const layerDigests = layers.map((l) => {
      this.blobs.set(sha256(l), l);
      return { digest: sha256(l), size: l.length };
    });
    return this.putManifest(repo, tag, { digest: sha256(config), size: config.length }, layerDigests);
  }

  /** A manifest naming blobs this registry never serves (they answer 404); returns the manifest's digest. */
  addManifestNaming(repo: string, tag: string, digests: string[]): string {
    return this.putManifest(repo, tag, { digest: digests[0] ?? sha256(Buffer.from('missing')), size: 2 }, digests.slice(1).map((d) => ({ digest: d, size: 1024 })));
  }

  count(filter: (r: HostileRequest) => boolean = () => true): number {
    return this.requests.filter(filter).length;
  }

  /** Requests that reached `host` carrying any Authorization header. */
  authorizedAt(host: HostName): HostileRequest[] {
    return this.requests.filter((r) => r.host === host && r.headers.authorization !== undefined);
  }

  reset(): void {
    this.requests.length = 0;
    this.hostility = {};
  }

  private putManifest(repo: string, tag: string, config: { digest: string; size: number }, layers: Array<{ digest: string; size: number }>): string {
    const mediaType = 'application/vnd.oci.image.manifest.v1+json';
    const doc = {
      schemaVersion: 2,
      mediaType,
      config: { mediaType: 'application/vnd.oci.image.config.v1+json', ...config },
      layers: layers.map((l) => ({ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', ...l })),
    };
    const bytes = Buffer.from(JSON.stringify(doc));
    const m = { bytes, mediaType, digest: sha256(bytes) };
    this.manifests.set(`${repo}:${tag}`, m);
    this.manifests.set(`${repo}:${m.digest}`, m);
    return m.digest;
  }

  private realmUrl(): string {
    const realm = this.hostility.realm ?? 'own';
    if (realm === 'own') return `${this.url}/token`;
    if (realm === 'elsewhere') return `${this.elsewhereUrl}/token`;
    if (realm === 'plain-http') return `${this.plainUrl}/token`;
    return realm.url;
  }

  private handle(host: HostName, req: IncomingMessage, res: ServerResponse): void {
    const url = new URL(req.url ?? '/', 'http://hostile');
    this.requests.push({ host, method: req.method ?? 'GET', path: url.pathname, query: url.searchParams, headers: req.headers });
    if (url.pathname === '/token' && host === 'registry' && this.hostility.tokenRedirectsToPlain) {
      res.writeHead(307, { location: `${this.plainUrl}/token${url.search}` });
      return void res.end();
    }
    if (url.pathname === '/token') return this.token(host, req, res);
    if (host === 'plain') return this.plainContent(url.pathname, req, res);
    if (host === 'elsewhere') {
      // The hostile CDN: a bearer challenge with a realm on itself, whatever was asked.
      res.setHeader('www-authenticate', `Bearer realm="${this.elsewhereUrl}/token",service="cdn"`);
      return this.error(res, 401, 'UNAUTHORIZED', 'the CDN wants a token too');
    }
    const m = /^\/v2\/(.+)\/(manifests|blobs|tags|referrers)\/(.+)$/.exec(url.pathname);
    const repo = m?.[1];
    if (this.options.auth !== false && !this.authorised(req)) {
      const scope = repo ? `,scope="repository:${repo}:pull"` : '';
      res.setHeader('www-authenticate', `Bearer realm="${this.realmUrl()}",service="hostile"${scope}`);
      return this.error(res, 401, 'UNAUTHORIZED', 'authentication required');
    }
    if (url.pathname === '/v2/') return this.json(res, 200, {});
    if (!m || !repo) return this.error(res, 404, 'NOT_FOUND', 'no such endpoint');
    const [, , kind, ref = ''] = m;
    if (this.hostility.downgrade && req.method === 'GET' && (kind === 'manifests' || kind === 'blobs')) {
      res.writeHead(307, { location: `${this.plainUrl}${url.pathname}?signature=${downgradeSecret}` });
      return void res.end();
    }
    if (kind === 'manifests') {
      const found = this.manifests.get(`${repo}:${ref}`);
      if (!found) return this.error(res, 404, 'MANIFEST_UNKNOWN', 'manifest unknown');
      res.writeHead(200, { 'content-type': found.mediaType, 'content-length': found.bytes.length, 'docker-content-digest': found.digest });
      return void res.end(req.method === 'HEAD' ? undefined : found.bytes);
    }
    if (kind === 'blobs') {
      const bytes = this.blobs.get(ref);
      if (!bytes) return this.error(res, 404, 'BLOB_UNKNOWN', 'blob unknown');
      if (this.hostility.cdnAnswers401) {
        res.writeHead(307, { location: `${this.elsewhereUrl}/blobs/${ref}` });
        return void res.end();
      }
      res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': bytes.length, 'docker-content-digest': ref });
      return void res.end(req.method === 'HEAD' ? undefined : bytes);
    }
    if (kind === 'tags' && ref === 'list') {
      const tags = [...this.manifests.keys()].filter((k) => k.startsWith(`${repo}:`) && !k.includes(':sha256:')).map((k) => k.slice(repo.length + 1));
      return this.list(res, JSON.stringify({ name: repo, tags }));
    }
    if (kind === 'referrers') return this.list(res, JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.index.v1+json', manifests: [] }), 'application/vnd.oci.image.index.v1+json');
    return this.error(res, 404, 'NOT_FOUND', 'no such endpoint');
  }

  /** The plain listener's /v2/ content: what a downgrade redirect points at (no auth: a CDN's signed URL). */
  private plainContent(path: string, req: IncomingMessage, res: ServerResponse): void {
    const m = /^\/v2\/(.+)\/(manifests|blobs)\/(.+)$/.exec(path);
    const found = m?.[2] === 'manifests' ? this.manifests.get(`${m[1]}:${m[3]}`) : undefined;
    const bytes = found?.bytes ?? (m?.[2] === 'blobs' ? this.blobs.get(m[3] ?? '') : undefined);
    if (!bytes) return this.error(res, 404, 'NOT_FOUND', 'nothing here');
    res.writeHead(200, { 'content-type': found?.mediaType ?? 'application/octet-stream', 'content-length': bytes.length });
    res.end(req.method === 'HEAD' ? undefined : bytes);
  }

  /** Only tokens of the realm in force count, so that a change of realm is noticed by a client holding tokens. */
  private authorised(req: IncomingMessage): boolean {
    const auth = req.headers.authorization;
    const issuer = auth?.startsWith('Bearer ') ? this.issued.get(auth.slice(7))?.host : undefined;
    const realm = this.hostility.realm ?? 'own';
    const expected = realm === 'own' ? 'registry' : realm === 'elsewhere' ? 'elsewhere' : realm === 'plain-http' ? 'plain' : undefined;
    return issuer !== undefined && (expected === undefined || issuer === expected);
  }

  private token(host: HostName, req: IncomingMessage, res: ServerResponse): void {
    const auth = req.headers.authorization;
    const basic = auth?.startsWith('Basic ') ? Buffer.from(auth.slice(6), 'base64').toString() : undefined;
    if (basic !== undefined) {
      const colon = basic.indexOf(':');
      if (this.options.users?.[basic.slice(0, colon)] !== basic.slice(colon + 1)) return this.error(res, 401, 'UNAUTHORIZED', 'bad credentials');
    }
    const token = `${host}.${randomBytes(12).toString('hex')}`;
    this.issued.set(token, { host, withCredentials: basic !== undefined });
    const body: Record<string, unknown> = { token, access_token: token, expires_in: 300 };
    if (this.hostility.tokenBodyBytes === Infinity) return endless(res, 200, `${JSON.stringify(body).slice(0, -1)},"padding":"`);
    const padding = (this.hostility.tokenBodyBytes ?? 0) - JSON.stringify(body).length;
    if (padding > 0) body.padding = 'x'.repeat(padding);
    this.send(res, 200, 'application/json', JSON.stringify(body));
  }

  private list(res: ServerResponse, body: string, type = 'application/json'): void {
    this.send(res, 200, this.hostility.listContentType ?? type, this.hostility.listContentType ? (this.hostility.listBody ?? htmlTagList) : body);
  }

  private error(res: ServerResponse, status: number, code: string, message: string): void {
    if (this.hostility.errorBodyBytes === Infinity) return endless(res, status, `{"errors":[{"code":"${code}","message":"${message}","detail":"`);
    const padding = Math.max(0, (this.hostility.errorBodyBytes ?? 0) - message.length);
    this.send(res, status, 'application/json', JSON.stringify({ errors: [{ code, message, detail: 'x'.repeat(padding) }] }));
  }

  private json(res: ServerResponse, status: number, value: unknown): void {
    this.send(res, status, 'application/json', JSON.stringify(value));
  }

  /** Writes on the raw socket when lying about the length (node's own checks would refuse the lie). */
  private send(res: ServerResponse, status: number, type: string, body: string): void {
    const lie = this.hostility.contentLengthLie;
    if (lie === undefined) {
      res.writeHead(status, { 'content-type': type, 'content-length': Buffer.byteLength(body) });
      return void res.end(body);
    }
    const socket = res.socket!;
    res.detachSocket(socket);
    const extra = Object.entries(res.getHeaders()).map(([k, v]) => `${k}: ${String(v)}\r\n`).join('');
    socket.write(`HTTP/1.1 ${status} X\r\ncontent-type: ${type}\r\ncontent-length: ${lie}\r\n${extra}connection: close\r\n\r\n`);
    socket.end(body);
  }
}

/** A JSON-looking body that never ends: padding written as fast as the reader takes it, until it goes away. */
function endless(res: ServerResponse, status: number, start: string): void {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.write(start);
  const chunk = 'x'.repeat(64 * 1024);
  const more = (): void => {
    while (!res.destroyed && res.write(chunk));
    if (!res.destroyed) res.once('drain', more);
  };
  res.on('close', () => res.removeListener('drain', more));
  more();
}

export function sha256(bytes: Buffer): string {
  return `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
}

async function listen(server: Server): Promise<number> {
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return (server.address() as AddressInfo).port;
}
