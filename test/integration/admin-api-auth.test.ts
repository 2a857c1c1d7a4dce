// The admin API's authentication over real sockets: every route needs a login or token, cookie-based changes need
// the CSRF token, tokens are shown once and audited, and the registry listener never serves the API.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { request } from 'undici';
import { adminRoutes } from '../../src/admin/admin-server.js';
import { AdminClient } from '../support/admin-client.js';
import { adminApiMirrorForSuite, password } from '../support/admin-api-mirror.js';
import { get, errorCode } from '../support/fake/mirror-over-fake.js';
import { startMirror, type TestMirror } from '../support/mirror-app.js';

interface OpenApi {
  paths: Record<string, Record<string, { security?: unknown[] }>>;
}

describe('admin API', () => {
  let mirror: TestMirror;
  let admin: AdminClient;

  adminApiMirrorForSuite((m) => ({ mirror, admin } = m));

  const openApi = async (): Promise<OpenApi> => (await new AdminClient(admin.url).call<OpenApi>('GET', '/api/openapi.json')).body;
  const concrete = (path: string): string => path.replace(/\{[^}]+\}/g, 'x');

  describe('authentication', () => {
    test('every route but login, session and the OpenAPI document answers 401 UNAUTHORIZED without a login', async () => {
      const doc = await openApi();
      let checked = 0;
      for (const [path, methods] of Object.entries(doc.paths)) {
        for (const [method, op] of Object.entries(methods)) {
          if (op.security?.length === 0) continue;
          const res = await new AdminClient(admin.url).call(method.toUpperCase() as 'GET', concrete(path), method === 'get' ? undefined : {});
          assert.equal(res.status, 401, `${method} ${path}`);
          assert.equal((res.body as { error?: string }).error, 'UNAUTHORIZED', `${method} ${path}`);
          checked++;
        }
      }
      assert.ok(checked >= 25, `checked ${checked} routes`);
    });

    test('the OpenAPI document lists every declared route, and only login and session are public', async () => {
      const doc = await openApi();
      const listed = Object.entries(doc.paths).flatMap(([path, methods]) => Object.keys(methods).map((m) => `${m.toUpperCase()} ${path}`));
      const declared = adminRoutes({} as never).map((r) => `${r.method} ${r.url.replace(/:([A-Za-z]+)/g, '{$1}')}`);
      assert.deepEqual(listed.sort(), declared.sort());
      const open = Object.entries(doc.paths).flatMap(([path, methods]) =>
        Object.entries(methods).filter(([, op]) => op.security?.length === 0).map(([m]) => `${m.toUpperCase()} ${path}`),
      );
      assert.deepEqual(open.sort(), ['GET /api/session', 'POST /api/login']);
    });

    test('a wrong password is 401 and leaves no cookie; the session probe says not logged in', async () => {
      const c = new AdminClient(admin.url);
      const res = await c.login('not-the-password');
      assert.equal(res.status, 401);
      assert.equal(res.body.error, 'UNAUTHORIZED');
      assert.equal(res.headers['set-cookie'], undefined);
      assert.deepEqual((await c.call('GET', '/api/session')).body, { authenticated: false });
    });

    test('login sets an HttpOnly, SameSite=Strict session cookie and returns the CSRF token', async () => {
      const c = new AdminClient(admin.url);
      const res = await c.login(password);
      const cookie = String(res.headers['set-cookie']);
      assert.match(cookie, /^pullgate_session=[A-Za-z0-9_-]{40,};/);
      assert.match(cookie, /HttpOnly/);
      assert.match(cookie, /SameSite=Strict/);
      assert.match(cookie, /Path=\//);
      assert.equal(typeof res.body.csrfToken, 'string');
      assert.deepEqual((await c.call('GET', '/api/session')).body, { authenticated: true, via: 'session', csrfToken: res.body.csrfToken });
    });

    test('login needs a JSON body: a form post (cross-site login) is refused', async () => {
      const res = await request(`${admin.url}/api/login`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: `password=${password}`,
      });
      assert.equal(res.statusCode, 400);
      assert.equal(((await res.body.json()) as { error: string }).error, 'VALIDATION');
    });

    test('logout ends the session: the old cookie no longer works', async () => {
      const c = new AdminClient(admin.url);
      await c.login(password);
      assert.equal((await c.call('GET', '/api/upstreams')).status, 200);
      const out = await c.call('POST', '/api/logout');
      assert.equal(out.status, 204);
      assert.match(String(out.headers['set-cookie']), /pullgate_session=;/);
      assert.equal((await c.call('GET', '/api/upstreams')).status, 401);
    });

    test('failed logins are rate limited per client with Retry-After, even for the right password', async () => {
      // A mirror of its own: the limiter must not lock the other tests out.
      const m = await startMirror({ listen: { admin: '127.0.0.1:0' }, upstreams: [] }, { adminPassword: password });
      try {
        const c = new AdminClient(m.adminUrl ?? '');
        for (let i = 0; i < 5; i++) assert.equal((await c.login(`wrong-${i}`)).status, 401);
        const blocked = await c.login(password);
        assert.equal(blocked.status, 429);
        assert.equal(blocked.body.error, 'TOO_MANY_ATTEMPTS');
        assert.ok(Number(blocked.headers['retry-after']) > 0);
        assert.ok(m.logs.some((l) => l.includes('admin login failed')));
        assert.ok(!m.logs.some((l) => l.includes('wrong-0')), 'attempted passwords are never logged');
      } finally {
        await m.close();
      }
    });

    test('a state change with the session cookie but without X-CSRF-Token is 403 CSRF on every changing route', async () => {
      const doc = await openApi();
      let checked = 0;
      for (const [path, methods] of Object.entries(doc.paths)) {
        for (const [method, op] of Object.entries(methods)) {
          if (method === 'get' || op.security?.length === 0) continue;
          const res = await admin.call(method.toUpperCase() as 'POST', concrete(path), {}, { csrf: false });
          assert.equal(res.status, 403, `${method} ${path}`);
          assert.equal((res.body as { error?: string }).error, 'CSRF', `${method} ${path}`);
          checked++;
        }
      }
      assert.ok(checked >= 14, `checked ${checked} routes`);
      const wrong = new AdminClient(admin.url);
      wrong.cookie = admin.cookie;
      wrong.csrfToken = 'x'.repeat(43);
      assert.equal((await wrong.call('POST', '/api/cache/evict')).status, 403);
    });

    test('API tokens: created from a session and shown once, listed without the token, work without CSRF, revoked', async () => {
      const created = await admin.call<{ id: string; token: string; name: string }>('POST', '/api/tokens', { name: 'ci script' });
      assert.equal(created.status, 201);
      assert.match(created.body.token, /^pgat_/);
      const list = await admin.call('GET', '/api/tokens');
      assert.ok(!list.text.includes(created.body.token));
      assert.ok(list.text.includes('ci script'));

      const script = new AdminClient(admin.url);
      script.token = created.body.token;
      assert.equal((await script.call('POST', '/api/cache/evict')).status, 200, 'a token needs no CSRF token');
      assert.equal((await script.call('GET', '/api/session')).text, JSON.stringify({ authenticated: true, via: 'token' }));
      const byToken = await script.call('POST', '/api/tokens', { name: 'another' });
      assert.equal(byToken.status, 403, 'a token cannot mint tokens');

      // The audit log has each change: by the session or by the token (by its name), from where, how it ended;
      // never a secret from the body.
      type Entry = { via: string; actor: string; client: string; action: string; summary: string; target: string; detail: string | null; outcome: string };
      const audit = (await admin.call<{ entries: Entry[] }>('GET', '/api/audit?limit=5')).body.entries;
      const pick = (e: Entry | undefined) => e && [e.via, e.actor, e.action, e.target, e.outcome];
      assert.deepEqual(pick(audit[0]), ['token', 'token ci script', 'POST /api/tokens', 'another', (byToken.body as { error: string }).error]);
      assert.deepEqual(pick(audit[1]), ['token', 'token ci script', 'POST /api/cache/evict', '', 'ok']);
      assert.deepEqual(pick(audit[2]), ['session', 'admin', 'POST /api/tokens', 'ci script', 'ok']);
      assert.equal(audit[1]?.client, '127.0.0.1');
      assert.match(audit[1]?.summary ?? '', /eviction/i);
      const login = (await admin.call<{ entries: Entry[] }>('GET', '/api/audit?limit=500')).body.entries.find((e) => e.action === 'POST /api/login' && e.outcome === 'ok');
      assert.deepEqual(pick(login), ['session', 'admin', 'POST /api/login', '', 'ok']);
      assert.equal(login?.detail, JSON.stringify({ password: '(hidden)' }));
      assert.equal((await script.call('GET', '/api/audit')).status, 200, 'a token may read the audit log');

      assert.equal((await admin.call('DELETE', `/api/tokens/${created.body.id}`)).status, 204);
      assert.equal((await script.call('GET', '/api/upstreams')).status, 401);
    });

    test('the admin API is not reachable through the registry listener', async () => {
      const res = await get(mirror.url, '/api/upstreams');
      assert.equal(res.status, 404);
      assert.equal(errorCode(res), 'NOT_FOUND');
    });

    test('the web UI is served at / with a content security policy', async () => {
      const res = await request(`${admin.url}/`);
      assert.equal(res.statusCode, 200);
      assert.match(await res.body.text(), /<title>Pullgate<\/title>/);
      assert.match(String(res.headers['content-security-policy']), /default-src 'self'/);
      assert.equal(res.headers['x-frame-options'], 'DENY');
    });
  });
});
