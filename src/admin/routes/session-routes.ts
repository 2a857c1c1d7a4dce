// Login, logout, the session probe, and API tokens for scripts.
import type {} from '@fastify/cookie';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import type { AdminContext } from '../admin-context.js';
import { AdminError } from '../admin-errors.js';
import { route, type AnyApiRoute } from '../api-kit.js';
import { operatorAddress } from '../operator-address.js';
import { loginRequest, sessionView, tokenCreate, tokenCreated, tokenList } from '../api-schemas.js';

export const sessionCookie = 'pullgate_session';

export function readSessionCookie(req: FastifyRequest): string | undefined {
  return (req.cookies as Record<string, string | undefined> | undefined)?.[sessionCookie];
}

function setSessionCookie(req: FastifyRequest, reply: FastifyReply, value: string, maxAgeSeconds: number): void {
  reply.setCookie(sessionCookie, value, {
    path: '/',
    httpOnly: true,
    sameSite: 'strict',
    secure: req.protocol === 'https',
    maxAge: maxAgeSeconds,
  });
}

export function sessionRoutes(ctx: AdminContext): AnyApiRoute[] {
  return [
    route({
      method: 'POST',
      url: '/api/login',
      summary: 'Log in with the admin password; sets the session cookie and returns the CSRF token',
      tag: 'session',
      public: true,
      body: loginRequest,
      response: sessionView,
      async handler({ body, req, reply }) {
        const session = await ctx.auth.login(body.password, operatorAddress(req, ctx.config.access.trustedProxies));
        setSessionCookie(req, reply, session.id, Math.floor(ctx.config.admin.sessionTtlMs / 1000));
        return { authenticated: true, via: 'session' as const, csrfToken: session.csrfToken };
      },
    }),
    route({
      method: 'GET',
      url: '/api/session',
      summary: 'Whether the request is logged in (never 401), with the CSRF token for the session',
      tag: 'session',
      public: true,
      response: sessionView,
      handler({ principal }) {
        if (!principal) return { authenticated: false };
        return principal.via === 'session'
          ? { authenticated: true, via: 'session' as const, csrfToken: principal.csrfToken }
          : { authenticated: true, via: 'token' as const };
      },
    }),
    route({
      method: 'POST',
      url: '/api/logout',
      summary: 'End the session',
      tag: 'session',
      handler({ req, reply }) {
        const cookie = readSessionCookie(req);
        if (cookie) ctx.auth.logout(cookie);
        reply.clearCookie(sessionCookie, { path: '/' });
      },
    }),
    route({
      method: 'GET',
      url: '/api/tokens',
      summary: 'API tokens (names and use, never the tokens)',
      tag: 'session',
      response: tokenList,
      handler: () => ({ tokens: ctx.auth.tokens() }),
    }),
    route({
      method: 'POST',
      url: '/api/tokens',
      summary: 'Create an API token for scripts; the token is shown in this answer only',
      tag: 'session',
      body: tokenCreate,
      response: tokenCreated,
      status: 201,
      handler({ body, principal }) {
        if (principal?.via !== 'session') throw new AdminError('FORBIDDEN', 'API tokens are created from a logged-in session');
        return { ...ctx.auth.createToken(body.name), lastUsedAt: null };
      },
    }),
    route({
      method: 'DELETE',
      url: '/api/tokens/:id',
      summary: 'Revoke an API token',
      tag: 'session',
      handler({ params }) {
        ctx.auth.revokeToken(z.string().uuid().parse(params.id));
      },
    }),
  ];
}
