// The registry API on the mirror's listeners: /v2/ (answered locally), the pull endpoints, the passthrough token
// endpoint. Routing and use cases live elsewhere; this file only translates HTTP to them and back.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Logger } from 'pino';
import { getBlob } from '../mirror/blobs.js';
import { listReferrers, listTags } from '../mirror/listings.js';
import { getManifest } from '../mirror/manifests.js';
import type { PullContext, PullLog, RegistryReply } from '../mirror/reply.js';
import type { MirrorServices } from '../mirror/services.js';
import { RegistryError } from '../registry/errors.js';
import { parseV2Path } from '../registry/paths.js';
import { formatChallenge } from '../upstream/challenge.js';
import { tokenRealmFor } from '../upstream/realm-rewrite.js';
import type { UpstreamRouter } from '../upstream/router.js';
import type { Metrics } from '../metrics/metrics.js';
import { forwardableAuthorization } from '../upstream/client-credentials.js';
import { relayToken } from '../upstream/token-relay.js';
import { tokenPath, tokenService, type AccessControl, type Admitted } from '../access/access-control.js';
import { TransferSlot } from '../access/transfer-slot.js';
import { accessLog, type AccessInfo, type RequestObserver } from './access-log.js';
import { errorReply } from './error-reply.js';
import { parseTarget } from './request-target.js';
import type { MirrorNames } from './mirror-names.js';
import { requestAuthority } from './request-authority.js';
import { sendReply } from './send.js';

export interface RegistryRoutesOptions {
  router: () => UpstreamRouter;
  services: MirrorServices;
  log: Logger;
  /** The scheme clients reached this listener with (before any load balancer). */
  scheme: 'http' | 'https';
  /** The names the mirror is known by: realms are built from them. */
  names: MirrorNames;
  onFinished?: RequestObserver;
  /** Who may pull what; absent: everyone, everything (tests of other concerns). */
  access?: AccessControl;
  metrics?: Metrics;
}

const baseServiceTimeoutMs = 3_000;
const writeMethods = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

export function registerRegistryRoutes(app: FastifyInstance, o: RegistryRoutesOptions): void {
  // The mirror's own credentials never reach a passthrough upstream (client-credentials.ts).
  const isMirrorUser = (name: string): boolean => o.access?.users.list().some((u) => u.username === name) ?? false;
  // Realms name the mirror by a name it is known by, never by an unvalidated Host (docs/security.md).
  const baseUrl = (req: FastifyRequest): string => {
    const forwarded = String(req.headers['x-forwarded-proto'] ?? '').split(',')[0]?.trim();
    const scheme = o.scheme === 'http' && (forwarded === 'https' || forwarded === 'http') ? forwarded : o.scheme;
    return o.names.realmOrigin(req.raw, scheme);
  };

  // Pushes never reach a pull mirror; answered before any body is read (docs/protocol.md, "Pushes").
  app.addHook('onRequest', async (req, reply) => {
    reply.header('docker-distribution-api-version', 'registry/2.0');
    if (writeMethods.has(req.method) && (req.url === '/v2' || req.url.startsWith('/v2/'))) {
      throw new RegistryError('UNSUPPORTED', 'this is a pull-through mirror; pushes and deletes are not accepted');
    }
  });

  const v2 = async (req: FastifyRequest, reply: FastifyReply): Promise<void> => {
    const started = performance.now();
    const pullLog: PullLog = {};
    const { authority, httpVersion } = requestAuthority(req.raw);
    const host = authority?.host;
    const info: AccessInfo = { method: req.method, url: req.url, host: authority?.value, http: httpVersion, client: req.ip, pull: pullLog };
    let admitted: Admitted | undefined;
    let transfer: TransferSlot | undefined;
    const finish = (status: number, bytes: number, err?: unknown): void => {
      transfer?.end();
      transfer = undefined;
      const ms = performance.now() - started;
      accessLog(o.log, info, status, bytes, ms, err);
      o.onFinished?.(info, status, bytes, ms);
      o.metrics?.request({ upstream: info.upstream, kind: info.kind ?? 'other', method: req.method, status, cache: pullLog.cache, bytes, redirectedBytes: pullLog.redirectedBytes });
    };
    const abort = new AbortController();
    reply.raw.on('close', () => abort.abort());
    let result: RegistryReply;
    try {
      const target = parseTarget(req.raw.url);
      if (target.ns !== undefined) reply.header('oci-namespace', target.ns);
      const route = parseV2Path(target.path);
      if (!route) throw new RegistryError('NOT_FOUND');
      info.kind = route.kind;
      const router = o.router();
      const client = { peer: req.socket.remoteAddress, forwardedFor: req.headers['x-forwarded-for'], authorization: req.headers.authorization };
      if (route.kind === 'base') {
        const upstream = router.forBase(host, target.ns);
        const admitted = await o.access?.admit(client, upstream?.config, baseUrl(req));
        if (admitted) info.client = admitted.user ?? admitted.address;
        result = await base(upstream, req, baseUrl(req), abort.signal);
      } else if (route.kind === 'catalog') {
        throw new RegistryError('NOT_FOUND', 'this mirror does not list its repositories');
      } else if (route.kind === 'upload') {
        throw new RegistryError('UNSUPPORTED', 'this is a pull-through mirror; pushes are not accepted');
      } else {
        const resolved = router.resolve(host, target.ns, route.path);
        info.upstream = resolved.upstream.name;
        info.via = resolved.via;
        info.repository = resolved.repository;
        admitted = await o.access?.admit(client, resolved.upstream.config, baseUrl(req));
        if (admitted) info.client = admitted.user ?? admitted.address;
        const tag = route.kind === 'manifest' && route.reference.kind === 'tag' ? route.reference.tag : undefined;
        o.access?.checkPolicy(resolved.upstream.config, resolved.repository, tag);
        if (admitted && route.kind === 'blob' && req.method === 'GET') {
          const limits = o.access?.limits;
          if (!limits?.startTransfer(admitted.key)) {
            throw new RegistryError('TOOMANYREQUESTS', 'too many transfers at once from this client; retry when one has finished', { headers: { 'retry-after': '1' } });
          }
          const key = admitted.key;
          transfer = new TransferSlot(() => limits.endTransfer(key));
        }
        const authorization = resolved.upstream.mode === 'passthrough' ? forwardableAuthorization(req.headers.authorization, isMirrorUser) : undefined;
        const ctx: PullContext = {
          upstream: resolved.upstream,
          repository: resolved.repository,
          clientPath: route.path,
          ...(target.ns !== undefined ? { ns: target.ns } : {}),
          ...(authorization ? { clientAuthorization: authorization } : {}),
          tokenRealm: tokenRealmFor(baseUrl(req), resolved.upstream.name),
          signal: abort.signal,
          ...(transfer ? { transfer } : {}),
          log: pullLog,
        };
        const method = req.method === 'HEAD' ? 'HEAD' : 'GET';
        if (route.kind === 'manifest') {
          info.reference = route.reference.kind === 'tag' ? route.reference.tag : route.reference.digest;
          const ifNoneMatch = req.headers['if-none-match'];
          result = await getManifest(o.services, ctx, {
            method,
            reference: route.reference,
            accept: req.headers.accept,
            ...(ifNoneMatch ? { ifNoneMatch } : {}),
          });
        } else if (route.kind === 'blob') {
          info.reference = route.digest;
          const range = req.headers.range;
          result = await getBlob(o.services, ctx, { method, digest: route.digest, ...(range !== undefined ? { range } : {}) });
        } else if (route.kind === 'tags') {
          const n = target.query.get('n') ?? undefined;
          const last = target.query.get('last') ?? undefined;
          result = await listTags(ctx, { ...(n !== undefined ? { n } : {}), ...(last !== undefined ? { last } : {}) });
        } else {
          info.reference = route.digest;
          result = await listReferrers(ctx, route.digest, target.query.get('artifactType') ?? undefined);
        }
      }
    } catch (err) {
      const e = errorReply(err);
      finish(e.status, Buffer.byteLength(e.body), err);
      if (abort.signal.aborted) return reply.hijack();
      return reply.code(e.status).headers(e.headers).send(e.body);
    }
    reply.hijack();
    for (const [k, v] of Object.entries(reply.getHeaders())) if (v !== undefined) reply.raw.setHeader(k, v);
    sendReply(reply.raw, result, req.method === 'HEAD', (err, bytes) => finish(result.status, bytes, err));
  };

  app.route({ method: ['GET', 'HEAD'], url: '/v2', handler: v2 });
  app.route({ method: ['GET', 'HEAD'], url: '/v2/*', handler: v2 });

  app.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string', bodyLimit: 64 * 1024 }, (_req, body, done) => {
    done(null, new URLSearchParams(String(body)));
  });
  // The mirror's own token endpoint (access.login: required): Basic credentials or an OAuth2 password grant in,
  // a bearer token out, in the shape Docker, containerd and containers/image expect.
  app.route({
    method: ['GET', 'POST'],
    url: tokenPath,
    handler: async (req, reply) => {
      const access = o.access;
      if (!access) throw new RegistryError('NOT_FOUND', 'no token endpoint here');
      // Admitted like every registry request, before any credential is read; guesses are limited (docs/security.md).
      const { address } = access.admitTokenRequest({ peer: req.socket.remoteAddress, forwardedFor: req.headers['x-forwarded-for'] });
      const form = req.body instanceof URLSearchParams ? req.body : undefined;
      let user: string | undefined;
      if (req.method === 'POST') {
        if (!form) throw new RegistryError('REQUEST_INVALID', 'token POST must be application/x-www-form-urlencoded');
        if (form.get('grant_type') !== 'password') throw new RegistryError('UNSUPPORTED', 'only the password grant is supported');
        user = await access.checkPassword(address, form.get('username') ?? '', form.get('password') ?? '');
      } else {
        user = await access.basicUser(req.headers.authorization, address);
      }
      o.log.info({ method: req.method, url: tokenPath, ...requestLogFields(req), client: address, user, ok: !!user }, 'token');
      if (!user) {
        throw new RegistryError('UNAUTHORIZED', 'wrong or missing username and password', {
          headers: { 'www-authenticate': `Basic realm="${tokenService}"` },
        });
      }
      const t = access.tokens.issue(user);
      return reply
        .header('cache-control', 'no-store')
        .send({ token: t.token, access_token: t.token, expires_in: t.expiresIn, issued_at: t.issuedAt });
    },
  });

  app.route({
    method: ['GET', 'POST'],
    url: '/token/:upstream',
    handler: async (req, reply) => {
      const name = (req.params as { upstream: string }).upstream;
      const upstream = o.router().named(name);
      if (!upstream || upstream.mode !== 'passthrough') throw new RegistryError('NOT_FOUND', 'no token endpoint here');
      await o.access?.admit({ peer: req.socket.remoteAddress, forwardedFor: req.headers['x-forwarded-for'], authorization: undefined }, upstream.config, baseUrl(req));
      const target = parseTarget(req.raw.url);
      const form = req.body instanceof URLSearchParams ? req.body : undefined;
      if (req.method === 'POST' && !form) throw new RegistryError('REQUEST_INVALID', 'token POST must be application/x-www-form-urlencoded');
      const answer = await relayToken(upstream, {
        method: req.method === 'POST' ? 'POST' : 'GET',
        query: target.query,
        ...(form ? { form } : {}),
        ...(req.headers.authorization ? { authorization: req.headers.authorization } : {}),
        isMirrorUser,
      });
      o.log.info({ method: req.method, url: '/token/' + name, ...requestLogFields(req), upstream: name, status: answer.status }, 'token');
      return reply.code(answer.status).header('cache-control', 'no-store').send(answer.body);
    },
  });
}

/** Where a request was sent and over which HTTP version, for log lines. */
function requestLogFields(req: FastifyRequest): { host: string | undefined; http: string } {
  const { authority, httpVersion } = requestAuthority(req.raw);
  return { host: authority?.value, http: httpVersion };
}

/** `GET /v2/`, answered locally: 200, or in passthrough mode a challenge naming the mirror's token endpoint. */
async function base(
  upstream: ReturnType<UpstreamRouter['forBase']>,
  req: FastifyRequest,
  baseUrl: string,
  signal: AbortSignal,
): Promise<RegistryReply> {
  const json = (status: number, headers: Record<string, string> = {}): RegistryReply => ({
    status,
    headers: { 'content-type': 'application/json', 'content-length': '2', ...headers },
    body: Buffer.from('{}'),
  });
  if (!upstream || upstream.mode !== 'passthrough' || req.headers.authorization) return json(200);
  // Docker and containers/image learn the challenge only here, so passthrough mode must issue one.
  // Learned from the upstream once; a slow or unreachable upstream must not hold up the ping for long.
  const service = await upstream.baseService(AbortSignal.any([signal, AbortSignal.timeout(baseServiceTimeoutMs)])).catch(() => undefined);
  const params: Record<string, string> = { realm: tokenRealmFor(baseUrl, upstream.name) };
  if (service) params.service = service;
  const body = JSON.stringify(new RegistryError('UNAUTHORIZED').toBody());
  return {
    status: 401,
    headers: {
      'content-type': 'application/json; charset=utf-8',
      'content-length': String(Buffer.byteLength(body)),
      'www-authenticate': formatChallenge({ scheme: 'bearer', params }),
    },
    body: Buffer.from(body),
  };
}
