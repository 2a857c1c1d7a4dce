// The registry API's `/v2/...` handler: it opens the request's exchange (exchange.ts), parses the target, routes
// it to an upstream, admits it (admission.ts) and hands it to the handler of its resource kind; then it writes
// the reply, or the error as an OCI error body, and ends the exchange once the last byte is out.
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { PullContext, RegistryReply } from '../../mirror/reply.js';
import type { MirrorServices } from '../../mirror/services.js';
import { RegistryError } from '../../registry/errors.js';
import { parseV2Path } from '../../registry/paths.js';
import { tokenRealmFor } from '../../upstream/realm-rewrite.js';
import type { UpstreamRouter } from '../../upstream/router.js';
import { errorReply } from '../error-reply.js';
import { parseTarget, type RequestTarget } from '../request-target.js';
import { sendReply } from '../send.js';
import type { Admission } from './admission.js';
import { serveBase } from './base.js';
import { serveBlob } from './blobs.js';
import { Exchange, type ExchangeSinks } from './exchange.js';
import { serveManifest } from './manifests.js';
import type { ClientOrigin } from './origin.js';
import { serveReferrers } from './referrers.js';
import type { RepositoryRoute, ResourceRequest } from './resource.js';
import { serveTags } from './tags.js';

export interface DispatchOptions {
  router: () => UpstreamRouter;
  services: MirrorServices;
  admission: Admission;
  origin: ClientOrigin;
  sinks: ExchangeSinks;
}

type Handler = (req: FastifyRequest, reply: FastifyReply) => Promise<void>;

export function registryDispatcher(o: DispatchOptions): Handler {
  return async (req, reply) => {
    const exchange = new Exchange(req, reply, o.sinks);
    let result: RegistryReply;
    try {
      result = await answer(o, req, reply, exchange);
    } catch (err) {
      const e = errorReply(err);
      exchange.finish(e.status, Buffer.byteLength(e.body), err);
      if (exchange.signal.aborted) return reply.hijack();
      return reply.code(e.status).headers(e.headers).send(e.body);
    }
    reply.hijack();
    // Headers set by hooks (the API version, oci-namespace) go out with the reply written on the raw response.
    for (const [k, v] of Object.entries(reply.getHeaders())) if (v !== undefined) reply.raw.setHeader(k, v);
    sendReply(reply.raw, result, req.method === 'HEAD', (err, bytes) => exchange.finish(result.status, bytes, err));
  };
}

async function answer(o: DispatchOptions, req: FastifyRequest, reply: FastifyReply, exchange: Exchange): Promise<RegistryReply> {
  const target = parseTarget(req.raw.url);
  if (target.ns !== undefined) reply.header('oci-namespace', target.ns);
  const route = parseV2Path(target.path);
  if (!route) throw new RegistryError('NOT_FOUND');
  exchange.info.kind = route.kind;
  const router = o.router();
  switch (route.kind) {
    case 'base': {
      const upstream = router.forBase(exchange.host, target.ns);
      const origin = o.origin(req);
      await o.admission.base(req, upstream, origin, exchange);
      return serveBase({ upstream, authorization: req.headers.authorization, origin, signal: exchange.signal });
    }
    case 'catalog':
      throw new RegistryError('NOT_FOUND', 'this mirror does not list its repositories');
    case 'upload':
      throw new RegistryError('UNSUPPORTED', 'this is a pull-through mirror; pushes are not accepted');
    default:
      return answerRepository(o, req, exchange, router, target, route);
  }
}

/** A request to one repository: routed to its upstream, admitted, then served by its resource's handler. */
async function answerRepository(
  o: DispatchOptions,
  req: FastifyRequest,
  exchange: Exchange,
  router: UpstreamRouter,
  target: RequestTarget,
  route: RepositoryRoute,
): Promise<RegistryReply> {
  const resolved = router.resolve(exchange.host, target.ns, route.path);
  const info = exchange.info;
  info.upstream = resolved.upstream.name;
  info.via = resolved.via;
  info.repository = resolved.repository;
  const origin = o.origin(req);
  const authorization = await o.admission.repository(req, resolved, route, origin, exchange);
  const ctx: PullContext = {
    upstream: resolved.upstream,
    repository: resolved.repository,
    clientPath: route.path,
    ...(target.ns !== undefined ? { ns: target.ns } : {}),
    ...(authorization ? { clientAuthorization: authorization } : {}),
    tokenRealm: tokenRealmFor(origin, resolved.upstream.name),
    signal: exchange.signal,
    ...(exchange.transfer ? { transfer: exchange.transfer } : {}),
    log: exchange.pull,
  };
  const r: ResourceRequest = { services: o.services, ctx, method: req.method === 'HEAD' ? 'HEAD' : 'GET', headers: req.headers, query: target.query, info };
  switch (route.kind) {
    case 'manifest':
      return serveManifest(route, r);
    case 'blob':
      return serveBlob(route, r);
    case 'tags':
      return serveTags(r);
    case 'referrers':
      return serveReferrers(route, r);
  }
}
