// The mirror's own token endpoint (access.login: required): Basic credentials or an OAuth2 password grant in, a
// bearer token out, in the shape Docker, containerd and containers/image expect (docs/security.md).
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Logger } from 'pino';
import { tokenPath, tokenService, type AccessControl } from '../../access/access-control.js';
import { RegistryError } from '../../registry/errors.js';
import { requestLogFields } from '../access-log.js';
import type { Admission, LoginCredentials } from './admission.js';

export interface TokenEndpointOptions {
  access: AccessControl | undefined;
  admission: Admission;
  log: Logger;
}

export function tokenEndpoint(o: TokenEndpointOptions): (req: FastifyRequest, reply: FastifyReply) => Promise<FastifyReply> {
  return async (req, reply) => {
    const access = o.access;
    if (!access) throw new RegistryError('NOT_FOUND', 'no token endpoint here');
    const { address, user } = await o.admission.tokenUser(req, () => credentials(req));
    o.log.info({ method: req.method, url: tokenPath, ...requestLogFields(req.raw), client: address, user, ok: !!user }, 'token');
    if (!user) {
      throw new RegistryError('UNAUTHORIZED', 'wrong or missing username and password', {
        headers: { 'www-authenticate': `Basic realm="${tokenService}"` },
      });
    }
    const t = access.tokens.issue(user);
    return reply.header('cache-control', 'no-store').send({ token: t.token, access_token: t.token, expires_in: t.expiresIn, issued_at: t.issuedAt });
  };
}

/** A POST carries an OAuth2 password grant as a form; a GET carries Basic credentials. */
function credentials(req: FastifyRequest): LoginCredentials {
  if (req.method !== 'POST') return { authorization: req.headers.authorization };
  const form = req.body instanceof URLSearchParams ? req.body : undefined;
  if (!form) throw new RegistryError('REQUEST_INVALID', 'token POST must be application/x-www-form-urlencoded');
  if (form.get('grant_type') !== 'password') throw new RegistryError('UNSUPPORTED', 'only the password grant is supported');
  return { username: form.get('username') ?? '', password: form.get('password') ?? '' };
}
