// The admin route guard on a bare fastify instance: a route declared by anyone, under /api or not, needs a login
// unless it says `public`, and a cookie session's state change needs the CSRF token (docs/security.md).
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import fastifyCookie from '@fastify/cookie';
import Fastify, { type FastifyInstance } from 'fastify';
import pino from 'pino';
import { AdminAuth } from '../../../src/admin/admin-auth.js';
import { AdminError } from '../../../src/admin/admin-errors.js';
import { AdminHosts } from '../../../src/admin/admin-hosts.js';
import { installRouteGuard } from '../../../src/admin/route-guard.js';
import { openDatabase, type CacheDatabase } from '../../../src/cache/db.js';

describe('the admin route guard', () => {
  let dir: string;
  let db: CacheDatabase;
  let app: FastifyInstance;
  let auth: AdminAuth;
  let cookie: string;
  let csrf: string;
  let token: string;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'pullgate-guard-'));
    db = openDatabase(join(dir, 'cache.db'));
    auth = new AdminAuth(db, pino({ level: 'silent' }), { password: 'the-admin-password', sessionTtlMs: 60_000 });
    await auth.init();
    const session = await auth.login('the-admin-password', '192.0.2.1');
    cookie = `pullgate_session=${session.id}`;
    csrf = session.csrfToken;
    token = auth.createToken('t').token;
    app = Fastify();
    await app.register(fastifyCookie);
    app.setErrorHandler(async (err, _req, reply) => reply.code(err instanceof AdminError ? err.status : 500).send({ error: (err as AdminError).code }));
    installRouteGuard(app, { auth, hosts: () => new AdminHosts({}) });
    // Routes a later change might add, none of them through the API kit.
    app.get('/debug/state', async () => ({ secret: true }));
    app.post('/api/new-thing', async () => ({ done: true }));
    app.get('/open', { config: { public: true } }, async () => ({ open: true }));
    await app.ready();
  });

  after(async () => {
    await app?.close();
    db?.close();
    await rm(dir, { recursive: true, force: true });
  });

  const status = async (method: 'GET' | 'POST', url: string, headers: Record<string, string> = {}) => (await app.inject({ method, url, headers })).statusCode;

  it('any route without `public` needs a login, under /api or not; a public one does not', async () => {
    assert.equal(await status('GET', '/debug/state'), 401);
    assert.equal(await status('POST', '/api/new-thing'), 401);
    assert.equal(await status('GET', '/open'), 200);
    assert.equal(await status('GET', '/nothing'), 404);
  });

  it('an API token works; a session cookie reads, and changes only with its CSRF token', async () => {
    assert.equal(await status('GET', '/debug/state', { authorization: `Bearer ${token}` }), 200);
    assert.equal(await status('POST', '/api/new-thing', { authorization: `Bearer ${token}` }), 200);
    assert.equal(await status('GET', '/debug/state', { cookie }), 200);
    assert.equal(await status('POST', '/api/new-thing', { cookie }), 403);
    assert.equal(await status('POST', '/api/new-thing', { cookie, 'x-csrf-token': csrf }), 200);
  });

  it("a host name that is not the admin's is refused before anything else", async () => {
    assert.equal(await status('GET', '/open', { host: 'evil.example' }), 403);
    assert.equal(await status('GET', '/debug/state', { host: 'evil.example', authorization: `Bearer ${token}` }), 403);
  });
});
