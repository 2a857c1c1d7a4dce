// Who may use an admin route, decided per route, deny by default (docs/security.md, "Operator and admin"). The
// decision reads the route the router matched (`routeOptions`), never the raw URL: a percent-encoded, dotted or
// absolute-form spelling of a path either reaches a route, and then that route's rule, or reaches no route (404).
// A route is public only when its declaration says `config: { public: true }`; every other route needs a
// principal, and a request that is not GET or HEAD with a session cookie needs the session's CSRF token as well.
// Before any of that: the request target must be in origin form and Host must be a name the admin answers to.
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { requestAuthority } from '../server/request-authority.js';
import type { AdminAuth, Principal } from './admin-auth.js';
import { AdminError } from './admin-errors.js';
import type { AdminHosts } from './admin-hosts.js';
import { readSessionCookie } from './routes/session-routes.js';

const safeMethods = new Set(['GET', 'HEAD']);

export interface RouteGuardOptions {
  auth: AdminAuth;
  /** Read per request: the configuration may be reloaded. */
  hosts: () => AdminHosts;
}

/** Whether the matched route declares itself public. */
export const isPublicRoute = (req: FastifyRequest): boolean => (req.routeOptions.config as { public?: unknown } | undefined)?.public === true;

/** Installs the guard as the first onRequest hook: it runs before the body is read, for every route and for 404s. */
export function installRouteGuard(app: FastifyInstance, o: RouteGuardOptions): void {
  app.addHook('onRequest', async (req) => {
    // Origin form only: `GET http://any/api/...` is how a proxy is addressed, not this listener.
    if (!req.raw.url?.startsWith('/') || req.raw.url.startsWith('//')) {
      throw new AdminError('TARGET_REFUSED', 'the admin answers only origin-form request targets (a path starting with one /)');
    }
    const hosts = o.hosts();
    // The one reader of a request's authority (server/request-authority.ts); a malformed one is no host at all.
    const { authority, malformed } = requestAuthority(req.raw);
    const host = malformed === undefined ? authority?.value : undefined;
    if (!hosts.allows(host)) {
      throw new AdminError(
        'HOST_REFUSED',
        `the admin does not answer to the host name ${JSON.stringify(host ?? '')}; it answers to IP addresses, localhost and ` +
          `${hosts.configured.filter((n) => n !== 'localhost').join(', ') || 'no other name'}. Add the name to admin.hosts in the configuration to use it.`,
      );
    }
    // No route matched: the not-found handler answers 404 and touches nothing.
    if (req.routeOptions.url === undefined) return;
    const principal = o.auth.authenticate(readSessionCookie(req), headerValue(req.headers.authorization));
    (req as FastifyRequest & { principal?: Principal | undefined }).principal = principal;
    if (isPublicRoute(req)) return;
    if (!principal) throw new AdminError('UNAUTHORIZED', 'log in first (or send an API token)');
    if (!safeMethods.has(req.method)) o.auth.checkCsrf(principal, headerValue(req.headers['x-csrf-token']));
  });
}

function headerValue(v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? v[0] : v;
}
