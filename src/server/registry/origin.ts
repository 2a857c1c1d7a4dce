// The mirror's origin as the client reached it, for token realms and login challenges: always a name the mirror is
// known by, never an unvalidated Host (docs/security.md, "Client and mirror"). On the plain listener, behind a load
// balancer that ends TLS, the scheme is the one the client used (X-Forwarded-Proto).
import type { FastifyRequest } from 'fastify';
import type { MirrorNames } from '../mirror-names.js';

/** `scheme://host[:port]` of the mirror for this request. */
export type ClientOrigin = (req: FastifyRequest) => string;

export function clientOrigin(names: MirrorNames, scheme: 'http' | 'https'): ClientOrigin {
  return (req) => {
    const forwarded = String(req.headers['x-forwarded-proto'] ?? '').split(',')[0]?.trim();
    const used = scheme === 'http' && (forwarded === 'https' || forwarded === 'http') ? forwarded : scheme;
    return names.realmOrigin(req.raw, used);
  };
}
