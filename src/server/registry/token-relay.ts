// `/token/<upstream>`: the token realm the mirror names in a passthrough upstream's challenges. The request is
// relayed to that upstream's own token service (src/upstream/token-relay.ts), the mirror's credentials stripped.
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Logger } from 'pino';
import { RegistryError } from '../../registry/errors.js';
import type { UpstreamRouter } from '../../upstream/router.js';
import { relayToken } from '../../upstream/token-relay.js';
import { requestLogFields } from '../access-log.js';
import { parseTarget } from '../request-target.js';
import type { Admission } from './admission.js';
import type { ClientOrigin } from './origin.js';

export interface TokenRelayOptions {
  router: () => UpstreamRouter;
  admission: Admission;
  origin: ClientOrigin;
  log: Logger;
}

export function tokenRelay(o: TokenRelayOptions): (req: FastifyRequest, reply: FastifyReply) => Promise<FastifyReply> {
  return async (req, reply) => {
    const name = (req.params as { upstream: string }).upstream;
    const upstream = o.router().named(name);
    if (!upstream || upstream.mode !== 'passthrough') throw new RegistryError('NOT_FOUND', 'no token endpoint here');
    await o.admission.tokenRelay(req, upstream, o.origin(req));
    const target = parseTarget(req.raw.url);
    const form = req.body instanceof URLSearchParams ? req.body : undefined;
    if (req.method === 'POST' && !form) throw new RegistryError('REQUEST_INVALID', 'token POST must be application/x-www-form-urlencoded');
    const answer = await relayToken(upstream, {
      method: req.method === 'POST' ? 'POST' : 'GET',
      query: target.query,
      ...(form ? { form } : {}),
      ...(req.headers.authorization ? { authorization: req.headers.authorization } : {}),
      isMirrorUser: o.admission.isMirrorUser,
    });
    o.log.info({ method: req.method, url: '/token/' + name, ...requestLogFields(req.raw), upstream: name, status: answer.status }, 'token');
    return reply.code(answer.status).header('cache-control', 'no-store').send(answer.body);
  };
}
