// An in-process registry for fault injection: content in memory, optional bearer auth with its own token
// endpoint, blob redirects to a second "CDN" origin, and knobs for 429, 5xx, truncation, resets, stalls, lying
// lengths, corruption, redirect loops and slowness.
// It counts every request so tests can assert how often the mirror went upstream.
import { createHash, randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface FakeManifest {
  mediaType: string;
  bytes: Buffer;
  digest: string;
}

export interface SeenRequest {
  origin: 'registry' | 'cdn';
  method: string;
  path: string;
  query: URLSearchParams;
  headers: IncomingMessage['headers'];
}

export interface Faults {
  /** Blob GETs end at this byte of the blob (the connection is destroyed): a Range request from past it gets nothing. */
  truncateBlobAt?: number;
  /** Blob GETs carry one flipped byte. */
  corruptBlob?: boolean;
  /** Every /v2/ request except the ping answers 429 with this Retry-After. */
  rateLimited?: string;
  /** Every request answers this 5xx status. */
  serverError?: number;
  /** Blob GET/HEAD redirect to the CDN origin: absolute URL, relative Location, or not at all. */
  redirectBlobs?: 'absolute' | 'relative' | false;
  /** Manifest answers get these rate-limit headers. */
  rateLimitHeaders?: { limit: string; remaining: string };
  /** The next N authorised requests answer 401 error="invalid_token" (a revoked token). */
  invalidTokenTimes?: number;
  /** Delay before response headers, in ms. */
  headerDelayMs?: number;
  /** Do not announce a Docker-Content-Digest on manifest HEAD (some registries don't). */
  noHeadDigest?: boolean;
  /** Blob bodies are sent in 64 KiB chunks with this pause between them (a slow upstream). */
  blobChunkDelayMs?: number;
  /** Blob GETs send the blob up to this byte, then the connection is reset (TCP RST, not a clean close). */
  resetBlobAt?: number;
  /** Only the next this many blob GETs are reset at `resetBlobAt` (default: every one). */
  resetBlobTimes?: number;
  /** Blob GETs send the blob up to this byte, then nothing more, with the connection held open (a stalled upstream). */
  stallBlobAt?: number;
  /** Blob GETs announce a Content-Length this many bytes off the real length (the body is sent whole). */
  contentLengthDelta?: number | undefined;
  /** A 5xx storm that ends: the next N requests (ping and token included) answer serverError (default 503). */
  serverErrorTimes?: number;
  /** A 429 storm that ends: the next N /v2/ requests answer 429 with `rateLimited` (if set) as Retry-After; then none. */
  rateLimitedTimes?: number;
  /** Manifest and blob requests redirect to themselves, for ever. */
  redirectLoop?: boolean;
  /** Blob GET/HEAD redirect to this URL (+ /cdn/<digest>), e.g. a private address. */
  redirectBlobsTo?: string;
  /** Manifests are served with one flipped byte (a wrong digest). */
  corruptManifest?: boolean;
}

export interface FakeUpstreamOptions {
  /** Require bearer tokens from the built-in token endpoint. */
  auth?: boolean;
  /** Basic credentials the token endpoint demands for repositories under private/. */
  users?: Record<string, string>;
  /** The private/ repositories each listed user is granted; a user not listed here is granted all of them. */
  grants?: Record<string, string[]>;
  tokenExpiresIn?: number;
  /** Serve tag lists paginated by this many. */
  tagPageSize?: number;
}

export class FakeUpstream {
  readonly manifests = new Map<string, Map<string, FakeManifest>>(); // repo -> tag|digest -> manifest
  readonly blobs = new Map<string, Buffer>();
  /** A blob listed here exists only in these repositories; every other blob is in every repository. */
  readonly blobRepositories = new Map<string, Set<string>>();
  readonly requests: SeenRequest[] = [];
  faults: Faults = {};
  private registry!: Server;
  private cdn!: Server;
  url = '';
  cdnUrl = '';
  private issued = new Set<string>();

  constructor(readonly options: FakeUpstreamOptions = {}) {}

  async start(): Promise<this> {
    this.registry = createServer((req, res) => void this.handle('registry', req, res));
    this.cdn = createServer((req, res) => void this.handle('cdn', req, res));
    this.url = await listen(this.registry);
    this.cdnUrl = await listen(this.cdn);
    return this;
  }

  async stop(): Promise<void> {
    for (const s of [this.registry, this.cdn]) {
      s.closeAllConnections();
      await new Promise((r) => s.close(r));
    }
  }

  addBlob(bytes: Buffer): string {
    const digest = sha256(bytes);
    this.blobs.set(digest, bytes);
    return digest;
  }

  /** Adds an image manifest (with a config and the given layers) and tags it; returns the manifest. */
  addImage(repo: string, tag: string, layers: Buffer[], mediaType = 'application/vnd.oci.image.manifest.v1+json'): FakeManifest {
    const config = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [] } }));
    const configDigest = this.addBlob(config);
    const docker = mediaType.includes('docker');
    const manifest = {
      schemaVersion: 2,
      mediaType,
      config: { mediaType: docker ? 'application/vnd.docker.container.image.v1+json' : 'application/vnd.oci.image.config.v1+json', digest: configDigest, size: config.length },
      layers: layers.map((l) => ({ mediaType: docker ? 'application/vnd.docker.image.rootfs.diff.tar.gzip' : 'application/vnd.oci.image.layer.v1.tar+gzip', digest: this.addBlob(l), size: l.length })),
    };
    // Pretty-printed on purpose: a mirror that re-serialises would change the digest.
    return this.putManifest(repo, tag, mediaType, Buffer.from(JSON.stringify(manifest, null, 3)));
  }

  addIndex(repo: string, tag: string, children: FakeManifest[], mediaType = 'application/vnd.oci.image.index.v1+json'): FakeManifest {
    const platforms = [{ architecture: 'amd64', os: 'linux' }, { architecture: 'arm64', os: 'linux', variant: 'v8' }];
    const index = {
      schemaVersion: 2,
      mediaType,
      manifests: children.map((c, i) => ({ mediaType: c.mediaType, digest: c.digest, size: c.bytes.length, platform: platforms[i % 2] })),
    };
    return this.putManifest(repo, tag, mediaType, Buffer.from(JSON.stringify(index, null, 2)));
  }

  putManifest(repo: string, tag: string | undefined, mediaType: string, bytes: Buffer): FakeManifest {
    const m: FakeManifest = { mediaType, bytes, digest: sha256(bytes) };
    const refs = this.manifests.get(repo) ?? new Map<string, FakeManifest>();
    refs.set(m.digest, m);
    if (tag) refs.set(tag, m);
    this.manifests.set(repo, refs);
    return m;
  }

  count(filter: (r: SeenRequest) => boolean = () => true): number {
    return this.requests.filter(filter).length;
  }

  reset(): void {
    this.requests.length = 0;
    this.faults = {};
  }

  private async handle(origin: 'registry' | 'cdn', req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://fake');
    this.requests.push({ origin, method: req.method ?? 'GET', path: url.pathname, query: url.searchParams, headers: req.headers });
    if (this.faults.headerDelayMs) {
      const arrivedUnder = this.faults;
      await new Promise((r) => setTimeout(r, this.faults.headerDelayMs));
      // Reset while delayed: this request belongs to an earlier test and must not consume the new faults.
      if (this.faults !== arrivedUnder) return void res.destroy();
    }
    if (origin === 'cdn') return this.serveCdn(url, req, res);
    if (url.pathname === '/token') return this.token(url, req, res);
    if (url.pathname.startsWith('/relative/cdn/')) return this.serveCdn(url, req, res);
    if (this.faults.serverErrorTimes) {
      this.faults.serverErrorTimes--;
      return error(res, this.faults.serverError ?? 503, 'UNAVAILABLE', 'upstream broken for a while');
    }
    if (this.faults.serverError) return error(res, this.faults.serverError, 'UNAVAILABLE', 'upstream broken');
    if (this.faults.redirectLoop && /^\/v2\/.+\/(manifests|blobs)\//.test(url.pathname)) {
      const hop = Number(url.searchParams.get('hop') ?? 0) + 1;
      res.statusCode = 302;
      res.setHeader('location', `${url.pathname}?hop=${hop}`);
      return void res.end();
    }
    if (url.pathname === '/v2/') {
      if (this.authorised(req, res, undefined)) json(res, 200, {});
      return;
    }
    const m = /^\/v2\/(.+)\/(manifests|blobs|tags|referrers)\/(.+)$/.exec(url.pathname);
    if (!m) return error(res, 404, 'NOT_FOUND', 'no such endpoint');
    const [, repo, kind, ref] = m as unknown as [string, string, string, string];
    if (!this.authorised(req, res, repo)) return;
    if (this.faults.rateLimitedTimes !== undefined) {
      if (this.faults.rateLimitedTimes > 0) {
        this.faults.rateLimitedTimes--;
        if (this.faults.rateLimited) res.setHeader('retry-after', this.faults.rateLimited);
        return error(res, 429, 'TOOMANYREQUESTS', 'You have reached your pull rate limit.');
      }
    } else if (this.faults.rateLimited) {
      res.setHeader('retry-after', this.faults.rateLimited);
      return error(res, 429, 'TOOMANYREQUESTS', 'You have reached your pull rate limit.');
    }
    if (kind === 'manifests') return this.manifest(repo, ref, req, res);
    if (kind === 'blobs') return this.blob(repo, ref, req, res);
    if (kind === 'tags' && ref === 'list') return this.tags(repo, url, res);
    if (kind === 'referrers') return error(res, 404, 'NOT_FOUND', 'referrers not supported');
    return error(res, 404, 'NOT_FOUND', 'no such endpoint');
  }

  private authorised(req: IncomingMessage, res: ServerResponse, repo: string | undefined): boolean {
    if (!this.options.auth) return true;
    const scope = repo ? `,scope="repository:${repo}:pull"` : '';
    const challenge = `Bearer realm="${this.url}/token",service="fake-registry"${scope}`;
    const auth = req.headers.authorization;
    const token = auth?.startsWith('Bearer ') ? auth.slice(7) : undefined;
    if (token && this.issued.has(token) && this.faults.invalidTokenTimes) {
      this.faults.invalidTokenTimes--;
      this.issued.delete(token);
      res.setHeader('www-authenticate', `${challenge},error="invalid_token"`);
      error(res, 401, 'UNAUTHORIZED', 'invalid token');
      return false;
    }
    const grant = token && this.issued.has(token) ? (JSON.parse(Buffer.from(token.split('.')[0] ?? '', 'base64url').toString()) as { repos: string[] }) : undefined;
    if (grant && (!repo || grant.repos.includes(repo))) return true;
    res.setHeader('www-authenticate', challenge);
    error(res, 401, 'UNAUTHORIZED', 'authentication required');
    return false;
  }

  private token(url: URL, req: IncomingMessage, res: ServerResponse): void {
    const basic = req.headers.authorization?.startsWith('Basic ') ? Buffer.from(req.headers.authorization.slice(6), 'base64').toString() : undefined;
    const users = this.options.users ?? {};
    let user: string | undefined;
    if (basic) {
      const [name, pass] = [basic.slice(0, basic.indexOf(':')), basic.slice(basic.indexOf(':') + 1)];
      if (users[name] !== pass) return error(res, 401, 'UNAUTHORIZED', 'bad credentials');
      user = name;
    }
    const repos = url.searchParams
      .getAll('scope')
      .flatMap((s) => s.split(' '))
      .map((s) => /^repository:(.+):[^:]+$/.exec(s)?.[1])
      .filter((r): r is string => !!r && (!r.startsWith('private/') || (user !== undefined && (this.options.grants?.[user]?.includes(r) ?? true))));
    const token = `${Buffer.from(JSON.stringify({ repos })).toString('base64url')}.${randomBytes(8).toString('hex')}`;
    this.issued.add(token);
    const body: Record<string, unknown> = { token, access_token: token, issued_at: new Date().toISOString() };
    if (this.options.tokenExpiresIn !== undefined) body.expires_in = this.options.tokenExpiresIn;
    json(res, 200, body);
  }

  private manifest(repo: string, ref: string, req: IncomingMessage, res: ServerResponse): void {
    const m = this.manifests.get(repo)?.get(ref);
    if (!m) return error(res, 404, this.manifests.has(repo) ? 'MANIFEST_UNKNOWN' : 'NAME_UNKNOWN', 'manifest unknown');
    // distribution's narrowing (docs/protocol.md, "Manifests"): an index the client does not accept is refused.
    const accept = String(req.headers.accept ?? '');
    if (m.mediaType.includes('index') && accept && !accept.includes(m.mediaType) && !ref.includes(':')) {
      return error(res, 404, 'MANIFEST_UNKNOWN', 'OCI index found, but accept header does not support OCI indexes');
    }
    if (this.faults.rateLimitHeaders) {
      res.setHeader('ratelimit-limit', this.faults.rateLimitHeaders.limit);
      res.setHeader('ratelimit-remaining', this.faults.rateLimitHeaders.remaining);
    }
    res.setHeader('content-type', m.mediaType);
    res.setHeader('content-length', m.bytes.length);
    if (!(req.method === 'HEAD' && this.faults.noHeadDigest)) res.setHeader('docker-content-digest', m.digest);
    const bytes = this.faults.corruptManifest ? flipMiddleByte(m.bytes) : m.bytes;
    res.end(req.method === 'HEAD' ? undefined : bytes);
  }

  private blob(repo: string, digest: string, req: IncomingMessage, res: ServerResponse): void {
    const holders = this.blobRepositories.get(digest);
    if (!this.blobs.has(digest) || (holders && !holders.has(repo))) return error(res, 404, 'BLOB_UNKNOWN', 'blob unknown');
    if (this.faults.redirectBlobsTo) {
      res.statusCode = 307;
      res.setHeader('location', `${this.faults.redirectBlobsTo}/cdn/${digest}`);
      return void res.end();
    }
    const redirect = this.faults.redirectBlobs;
    if (redirect) {
      const path = `/cdn/${digest}?sig=secret-signature`;
      res.statusCode = 307;
      // A relative Location resolves against the registry origin, as Artifact Registry's do.
      res.setHeader('location', redirect === 'absolute' ? `${this.cdnUrl}${path}` : `/relative${path}`);
      return void res.end();
    }
    this.sendBlob(digest, req, res);
  }

  private serveCdn(url: URL, req: IncomingMessage, res: ServerResponse): void {
    const digest = /\/cdn\/(.+)$/.exec(url.pathname)?.[1];
    if (!digest || !this.blobs.has(digest)) return error(res, 404, 'BLOB_UNKNOWN', 'not on the CDN');
    this.sendBlob(digest, req, res);
  }

  private sendBlob(digest: string, req: IncomingMessage, res: ServerResponse): void {
    let bytes = this.blobs.get(digest)!;
    if (this.faults.corruptBlob) bytes = flipMiddleByte(bytes);
    const range = /^bytes=(\d+)-(\d*)$/.exec(String(req.headers.range ?? ''));
    let start = 0;
    let end = bytes.length - 1;
    if (range) {
      start = Number(range[1]);
      end = range[2] ? Math.min(Number(range[2]), end) : end;
      if (start >= bytes.length) {
        res.setHeader('content-range', `bytes */${bytes.length}`);
        return error(res, 416, 'RANGE_INVALID', 'unsatisfiable');
      }
      res.statusCode = 206;
      res.setHeader('content-range', `bytes ${start}-${end}/${bytes.length}`);
    }
    const body = bytes.subarray(start, end + 1);
    const delta = this.faults.contentLengthDelta;
    if (delta && req.method === 'GET') {
      // Written on the raw socket: node's own response checks would refuse a lying Content-Length.
      const socket = res.socket!;
      res.detachSocket(socket);
      const head = `HTTP/1.1 ${res.statusCode} OK\r\ncontent-type: application/octet-stream\r\ncontent-length: ${body.length + delta}\r\nconnection: close\r\n\r\n`;
      socket.write(head);
      socket.end(body);
      return;
    }
    res.setHeader('content-type', 'application/octet-stream');
    res.setHeader('content-length', end - start + 1);
    if (req.method === 'HEAD') return void res.end();
    const resetNow = this.faults.resetBlobAt !== undefined && (this.faults.resetBlobTimes === undefined || this.faults.resetBlobTimes-- > 0);
    if (resetNow || this.faults.stallBlobAt !== undefined) {
      const reset = resetNow;
      const at = (reset ? this.faults.resetBlobAt : this.faults.stallBlobAt) ?? 0;
      res.flushHeaders();
      // The fault is at a byte of the blob: a Range request from past it gets nothing before the reset or stall.
      res.write(body.subarray(0, Math.max(0, at - start)), () => {
        if (reset) setTimeout(() => res.socket?.resetAndDestroy(), 20);
      });
      return;
    }
    // At a byte of the blob, like the reset: a Range request from past it gets an empty body.
    const cut = this.faults.truncateBlobAt === undefined ? undefined : Math.max(0, this.faults.truncateBlobAt - start);
    const sent = cut !== undefined && cut < body.length ? body.subarray(0, cut) : body;
    const finish = () => (sent === body ? res.end() : setTimeout(() => res.destroy(), 20));
    const delay = this.faults.blobChunkDelayMs;
    res.flushHeaders();
    if (!delay) return void res.write(sent, finish);
    let offset = 0;
    const next = (): void => {
      if (res.destroyed) return;
      if (offset >= sent.length) return void finish();
      const chunk = sent.subarray(offset, offset + 64 * 1024);
      offset += chunk.length;
      res.write(chunk, () => setTimeout(next, delay));
    };
    next();
  }

  private tags(repo: string, url: URL, res: ServerResponse): void {
    const refs = this.manifests.get(repo);
    if (!refs) return error(res, 404, 'NAME_UNKNOWN', 'repository unknown');
    let tags = [...refs.keys()].filter((k) => !k.includes(':')).sort();
    const last = url.searchParams.get('last');
    if (last) tags = tags.filter((t) => t > last);
    const n = Number(url.searchParams.get('n') ?? this.options.tagPageSize ?? 1000);
    const page = tags.slice(0, n);
    if (tags.length > n) {
      res.setHeader('link', `<${this.url}/v2/${repo}/tags/list?n=${n}&last=${page[page.length - 1]}>; rel="next"`);
    }
    json(res, 200, { name: repo, tags: page });
  }
}

function flipMiddleByte(bytes: Buffer): Buffer {
  const out = Buffer.from(bytes);
  const middle = out.length >> 1;
  out[middle] = out[middle]! ^ 0xff;
  return out;
}

export function sha256(bytes: Buffer): string {
  return `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
}

function json(res: ServerResponse, status: number, value: unknown): true {
  const body = JSON.stringify(value);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
  res.end(body);
  return true;
}

function error(res: ServerResponse, status: number, code: string, message: string): void {
  json(res, status, { errors: [{ code, message }] });
}

async function listen(server: Server): Promise<string> {
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}
