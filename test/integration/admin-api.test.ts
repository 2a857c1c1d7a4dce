// The admin API over real sockets: every route needs a login or token, cookie-based changes need the CSRF token,
// validation errors name the field, credentials never come back, and changes to upstreams apply to the very next
// registry request. Upstreams are in-process fake registries (test/support/fake); the real-client variant of live
// apply is test/e2e/admin-live-upstream.test.ts.
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { readFile, writeFile, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { request } from 'undici';
import { adminRoutes } from '../../src/admin/admin-server.js';
import { AdminClient } from '../support/admin-client.js';
import { FakeUpstream } from '../support/fake/fake-upstream.js';
import { get, errorCode } from '../support/fake/mirror-over-fake.js';
import { startMirror, type TestMirror } from '../support/mirror-app.js';

const password = 'admin-password-for-tests';
const upstreamSecret = 'upstream-secret-never-shown';

interface OpenApi {
  paths: Record<string, Record<string, { security?: unknown[] }>>;
}

describe('admin API', () => {
  let hub: FakeUpstream;
  let other: FakeUpstream;
  let mirror: TestMirror;
  let admin: AdminClient;
  let webDir: string;

  before(async () => {
    hub = await new FakeUpstream().start();
    other = await new FakeUpstream({ auth: true, users: { robot: upstreamSecret } }).start();
    hub.addImage('library/alpine', '3.20', [Buffer.alloc(3000, 1), Buffer.alloc(5000, 2)]);
    other.addImage('private/app', '1.0', [Buffer.alloc(4000, 3)]);
    webDir = await mkdtemp(join(tmpdir(), 'pullgate-web-'));
    await writeFile(join(webDir, 'index.html'), '<!doctype html><title>Pullgate</title>');
    mirror = await startMirror(
      {
        listen: { admin: '127.0.0.1:0' },
        cache: { pins: ['hub/library/pinned-by-config'] },
        upstreams: [{ name: 'hub', registry: 'docker.io', url: hub.url, default: true }],
      },
      { adminPassword: password, webDir },
    );
    admin = new AdminClient(mirror.adminUrl ?? '');
    assert.equal((await admin.login(password)).status, 200);
  });

  after(async () => {
    await mirror?.close();
    await hub?.stop();
    await other?.stop();
    await rm(webDir, { recursive: true, force: true });
  });

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

  describe('upstream sources', () => {
    const live = () => ({
      name: 'other',
      registry: 'other.example.test',
      url: other.url,
      hosts: ['other.mirror.test'],
      auth: { mode: 'mirror', username: 'robot', password: upstreamSecret },
    });

    test('the config file upstream is listed read-only, with its health', async () => {
      const res = await admin.call<{ upstreams: Array<Record<string, unknown>> }>('GET', '/api/upstreams');
      assert.equal(res.status, 200);
      const hubView = res.body.upstreams.find((u) => u.name === 'hub');
      assert.equal(hubView?.source, 'config');
      assert.equal(hubView?.enabled, true);
      assert.deepEqual(Object.keys(hubView?.health as object).sort(), ['circuit', 'lastError', 'lastOkAt', 'rateLimit', 'reachable', 'urls']);
      // One URL (no mirrors configured): the origin, its circuit closed.
      assert.deepEqual((hubView?.health as { urls: unknown }).urls, [{ url: hub.url, role: 'origin', circuit: 'closed', failures: 0 }]);
      const edit = await admin.call('PUT', '/api/upstreams/hub', { name: 'hub', registry: 'docker.io', url: hub.url });
      assert.equal(edit.status, 409);
      assert.equal((edit.body as { error: string }).error, 'READ_ONLY');
      assert.equal((await admin.call('DELETE', '/api/upstreams/hub')).status, 409);
    });

    test('validation errors name the field', async () => {
      const cases: Array<[Record<string, unknown>, string]> = [
        [{ ...live(), url: 'ftp://nope' }, 'url'],
        [{ ...live(), name: 'Bad Name' }, 'name'],
        [{ ...live(), hosts: ['not a host'] }, 'hosts.0'],
        [{ ...live(), auth: { mode: 'mirror', password: 'x' } }, 'auth.username'],
        [{ ...live(), registry: 'docker.io' }, 'registry'],
        [{ ...live(), default: true }, ''],
        [{ ...live(), caPem: 'not pem' }, 'caPem'],
        [{ ...live(), tagTtl: 'soon' }, 'tagTtl'],
        [{ ...live(), surprise: 1 }, ''],
      ];
      for (const [body, field] of cases) {
        const res = await admin.call<{ error: string; fields?: Array<{ path: string; message: string }> }>('POST', '/api/upstreams', body);
        assert.equal(res.status, 400, `${JSON.stringify(body)} -> ${res.text}`);
        assert.equal(res.body.error, 'VALIDATION');
        assert.ok(res.body.fields?.some((f) => f.path === field), `${field} in ${res.text}`);
      }
      assert.equal((await admin.call<{ upstreams: unknown[] }>('GET', '/api/upstreams')).body.upstreams.length, 1, 'nothing was saved');
    });

    test('a signature policy with wrong fields is refused naming each field (the config file\'s schema), and nothing is saved', async () => {
      const pem = generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).publicKey.export({ type: 'spki', format: 'pem' }).toString();
      const cases: Array<[unknown, string, RegExp]> = [
        [{ require: [{ repositories: ['Team/*'], keys: [pem] }] }, 'signatures.require.0.repositories.0', /repository glob/],
        [{ require: [{ repositories: ['team/*'], keys: [pem], mode: 'block' }] }, 'signatures.require.0.mode', /enforce|audit/],
        [{ require: [{ repositories: ['team/*'], keys: [pem], threshold: 0 }] }, 'signatures.require.0.threshold', /./],
        [{ require: [{ repositories: ['team/*'] }] }, 'signatures.require.0', /keys or identities/],
        [{ require: [{ repositories: ['team/*'], identities: [{ issuer: 'https://issuer.test', subjectRegExp: '(' }] }] }, 'signatures.require.0.identities.0.subjectRegExp', /regular expression/],
        [{ require: [{ repositories: ['team/*'], keys: [pem, '/etc/passwd'] }] }, 'signatures.require.0.keys.1', /PEM/],
        [{ require: [{ repositories: ['team/*'], keys: ['-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n'] }] }, 'signatures.require.0.keys.0', /./],
        [{ require: [{ repositories: ['team/*'], keys: [`sha256:${'a'.repeat(64)}`] }] }, 'signatures.require.0.keys.0', /fingerprint/],
        [{ trustedRoot: '/etc/pullgate/root.json', require: [{ repositories: ['team/*'], keys: [pem] }] }, 'signatures.trustedRoot', /config file/],
        [{ require: [] }, 'signatures.require', /./],
      ];
      for (const [signatures, path, message] of cases) {
        const res = await admin.call<{ error: string; fields?: Array<{ path: string; message: string }> }>('POST', '/api/upstreams', { ...live(), signatures });
        assert.equal(res.status, 400, `${JSON.stringify(signatures)} -> ${res.text}`);
        assert.equal(res.body.error, 'VALIDATION');
        const field = res.body.fields?.find((f) => f.path === path);
        assert.match(field?.message ?? '', message, `${path} in ${res.text}`);
      }
      assert.equal((await admin.call<{ upstreams: unknown[] }>('GET', '/api/upstreams')).body.upstreams.length, 1, 'nothing was saved');
    });

    test('an added upstream is routed by the very next request; its password is never returned nor stored in clear', async () => {
      const before = await get(mirror.url, '/v2/private/app/manifests/1.0', { headers: { host: 'other.mirror.test' } });
      assert.equal(before.status, 404, 'not routed before it is added');

      const created = await admin.call<Record<string, unknown>>('POST', '/api/upstreams', live());
      assert.equal(created.status, 201, created.text);
      assert.equal(created.body.source, 'admin');
      assert.deepEqual(created.body.auth, { mode: 'mirror', username: 'robot', hasPassword: true });
      assert.ok(!created.text.includes(upstreamSecret));
      assert.ok(!(await admin.call('GET', '/api/upstreams')).text.includes(upstreamSecret));

      const pulled = await get(mirror.url, '/v2/private/app/manifests/1.0', { headers: { host: 'other.mirror.test' } });
      assert.equal(pulled.status, 200, pulled.body.toString());
      assert.ok(other.count((r) => r.path === '/v2/private/app/manifests/1.0') > 0, 'the added upstream was asked');

      const db = await readFile(join(mirror.dataDir, 'pullgate.db'));
      const wal = await readFile(join(mirror.dataDir, 'pullgate.db-wal')).catch(() => Buffer.alloc(0));
      assert.ok(!db.includes(upstreamSecret) && !wal.includes(upstreamSecret), 'the password is stored sealed');
      assert.ok(!mirror.logs.some((l) => l.includes(upstreamSecret)), 'the password never reaches the log');
    });

    test('disable stops routing at once; enable brings it back; offline serves only the cache', async () => {
      const path = '/v2/private/app/manifests/1.0';
      const off = await admin.call<Record<string, unknown>>('PATCH', '/api/upstreams/other', { enabled: false });
      assert.equal(off.status, 200);
      assert.equal(off.body.enabled, false);
      assert.equal((await get(mirror.url, path, { headers: { host: 'other.mirror.test' } })).status, 404);
      assert.equal((await admin.call('PATCH', '/api/upstreams/other', { enabled: true })).status, 200);
      assert.equal((await get(mirror.url, path, { headers: { host: 'other.mirror.test' } })).status, 200);

      assert.equal((await admin.call('PATCH', '/api/upstreams/other', { offline: true })).status, 200);
      const asked = other.count();
      const cached = await get(mirror.url, path, { headers: { host: 'other.mirror.test' } });
      assert.equal(cached.status, 200, 'a cached tag is served offline');
      const missing = await get(mirror.url, '/v2/private/app/manifests/2.0', { headers: { host: 'other.mirror.test' } });
      assert.equal(missing.status, 404);
      assert.equal(other.count(), asked, 'offline: the upstream is not contacted');
      assert.equal((await admin.call('PATCH', '/api/upstreams/other', { offline: false })).status, 200);
    });

    test('an edit applies live and keeps the stored password when it is left out', async () => {
      const edited = await admin.call<Record<string, unknown>>('PUT', '/api/upstreams/other', {
        ...live(),
        hosts: ['other2.mirror.test'],
        auth: { mode: 'mirror', username: 'robot' },
      });
      assert.equal(edited.status, 200, edited.text);
      assert.deepEqual(edited.body.hosts, ['other2.mirror.test']);
      assert.deepEqual(edited.body.auth, { mode: 'mirror', username: 'robot', hasPassword: true });
      assert.deepEqual(
        { allowPrivateRedirects: edited.body.allowPrivateRedirects, retries: edited.body.retries, circuit: edited.body.circuit },
        { allowPrivateRedirects: false, retries: { attempts: 3, minDelayMs: 200, maxDelayMs: 2000 }, circuit: { failures: 5, openForMs: 30_000 } },
        'the view carries every setting an edit sends back',
      );
      assert.equal((await get(mirror.url, '/v2/private/app/manifests/1.0', { headers: { host: 'other.mirror.test' } })).status, 404);
      // A fresh tag needs the upstream, with the kept password.
      other.addImage('private/app', '1.1', [Buffer.alloc(100, 4)]);
      const res = await get(mirror.url, '/v2/private/app/manifests/1.1', { headers: { host: 'other2.mirror.test' } });
      assert.equal(res.status, 200, res.body.toString());
      const renamed = await admin.call('PUT', '/api/upstreams/other', { ...live(), name: 'renamed' });
      assert.equal(renamed.status, 400);
    });

    test('the test action reports each step: unsaved settings, a saved upstream, and where a wrong one fails', async () => {
      type Result = { ok: boolean; steps: Array<{ step: string; ok: boolean; detail: string }> };
      const trial = await admin.call<Result>('POST', '/api/upstreams/test', { upstream: { ...live(), name: 'trial' }, image: 'private/app:1.0' });
      assert.equal(trial.status, 200, trial.text);
      assert.deepEqual(trial.body.steps.map((s) => [s.step, s.ok]), [['resolve', true], ['connect', true], ['token', true], ['manifest', true]]);
      assert.match(trial.body.steps[3]?.detail ?? '', /sha256:/);

      // What a test of a saved upstream learns is its health too: from its form (at its own URL) or from the list.
      type Health = { reachable: boolean | null; lastOkAt: number | null; lastError: { message: string } | null };
      const otherHealth = async (): Promise<Health | undefined> =>
        (await admin.call<{ upstreams: Array<{ name: string; health: Health }> }>('GET', '/api/upstreams')).body.upstreams.find((u) => u.name === 'other')?.health;
      const missing = await admin.call<Result>('POST', '/api/upstreams/test', { upstream: live(), image: 'private/app:no-such-tag' });
      assert.equal(missing.body.ok, false, missing.text);
      const afterMissing = await otherHealth();
      assert.equal(afterMissing?.reachable, false);
      assert.equal(afterMissing?.lastError?.message, missing.body.steps.find((s) => !s.ok)?.detail);
      const saved = await admin.call<Result>('POST', '/api/upstreams/other/test', { image: 'private/app:1.0' });
      assert.equal(saved.body.ok, true, saved.text);
      assert.equal((await otherHealth())?.reachable, true);

      const wrongPassword = await admin.call<Result>('POST', '/api/upstreams/test', {
        upstream: { ...live(), name: 'trial', auth: { mode: 'mirror', username: 'robot', password: 'wrong' } },
        image: 'private/app:1.0',
      });
      assert.equal(wrongPassword.body.ok, false);
      assert.deepEqual(wrongPassword.body.steps.at(-1)?.step, 'token');

      const refused = await admin.call<Result>('POST', '/api/upstreams/test', { upstream: { ...live(), name: 'trial', url: 'http://127.0.0.1:1' } });
      assert.equal(refused.body.ok, false);
      assert.equal(refused.body.steps.at(-1)?.step, 'connect');
      assert.match(refused.body.steps.at(-1)?.detail ?? '', /ECONNREFUSED/);

      const invalid = await admin.call<{ fields: Array<{ path: string }> }>('POST', '/api/upstreams/test', { upstream: { ...live(), url: 'nope' } });
      assert.equal(invalid.status, 400);
      assert.deepEqual(invalid.body.fields.map((f) => f.path), ['upstream.url']);
    });

    test('delete removes the upstream from routing at once', async () => {
      assert.equal((await admin.call('DELETE', '/api/upstreams/other')).status, 204);
      assert.equal((await get(mirror.url, '/v2/private/app/manifests/1.0', { headers: { host: 'other2.mirror.test' } })).status, 404);
      assert.equal((await admin.call('DELETE', '/api/upstreams/other')).status, 404);
    });
  });

  describe('cache', () => {
    /** Pulls library/alpine:3.20 and returns the bytes the client received. */
    const pull = async (): Promise<number> => {
      const m = await get(mirror.url, '/v2/alpine/manifests/3.20');
      assert.equal(m.status, 200);
      let bytes = m.body.length;
      const doc = JSON.parse(m.body.toString()) as { config: { digest: string }; layers: Array<{ digest: string }> };
      for (const d of [doc.config.digest, ...doc.layers.map((l) => l.digest)]) {
        const blob = await get(mirror.url, `/v2/alpine/blobs/${d}`);
        assert.equal(blob.status, 200);
        bytes += blob.body.length;
      }
      return bytes;
    };

    test('summary, traffic, repositories and images describe a pulled image; a second pull is all hits', async () => {
      const savedBefore = (await admin.call<{ traffic: { bytesSaved: number } }>('GET', '/api/cache/summary')).body.traffic.bytesSaved;
      await pull();
      const secondPull = await pull();
      type Traffic = { bytesServed: number; bytesFetched: number; bytesSaved: number; bytesPrefetched: number; hits: number; misses: number; hitRatio: number };
      type Summary = { blobs: number; manifests: number; tags: number; size: number; traffic: Traffic; upstreams: Array<{ name: string; repositories: number; traffic: Traffic }> };
      // A request is counted when its response has ended, which may be just after the client has its bytes.
      const hubTraffic = (b: Summary): Traffic | undefined => b.upstreams.find((u) => u.name === 'hub')?.traffic;
      const summary = await admin.until<Summary>('/api/cache/summary', (b) => (hubTraffic(b)?.hits ?? 0) + (hubTraffic(b)?.misses ?? 0) >= 8);
      assert.ok(summary.blobs >= 3);
      assert.ok(summary.manifests >= 1);
      assert.ok(summary.size > 8000);
      const hubRow = summary.upstreams.find((u) => u.name === 'hub');
      assert.equal(hubRow?.repositories, 1);
      const t = hubRow?.traffic as Traffic;
      const image = 3000 + 5000;
      assert.ok(t.bytesServed >= 2 * image, JSON.stringify(t));
      assert.ok(t.bytesFetched >= image && t.bytesFetched < 2 * image, JSON.stringify(t));
      // Saved is what the cache served itself: the second pull, every byte of it a hit.
      assert.equal(summary.traffic.bytesSaved - savedBefore, secondPull);
      assert.equal(t.bytesPrefetched, 0);
      assert.equal(t.hits, 4, 'the second pull: manifest and three blobs from the cache');
      assert.equal(t.misses, 4);
      assert.equal(t.hitRatio, 0.5);
      assert.ok(summary.traffic.bytesServed >= t.bytesServed, 'the overall figures include every upstream');

      // Up to a day: 5-minute buckets from the minute rows; an hour: minutes; beyond a day: hours.
      const series = (await admin.call<{ bucketMs: number; points: Array<{ bytesServed: number }> }>('GET', '/api/cache/traffic?hours=6')).body;
      assert.equal(series.bucketMs, 300_000);
      assert.equal(series.points.length, 72);
      const sum = (s: { points: Array<{ bytesServed: number }> }): number => s.points.reduce((a, p) => a + p.bytesServed, 0);
      assert.equal(sum(series), summary.traffic.bytesServed);
      const hour = (await admin.call<{ bucketMs: number; points: Array<{ bytesServed: number }> }>('GET', '/api/cache/traffic?hours=1')).body;
      assert.deepEqual([hour.bucketMs, hour.points.length, sum(hour)], [60_000, 60, summary.traffic.bytesServed]);
      const week = (await admin.call<{ bucketMs: number; points: Array<{ bytesServed: number }> }>('GET', '/api/cache/traffic?hours=168')).body;
      assert.deepEqual([week.bucketMs, week.points.length, sum(week)], [3_600_000, 168, summary.traffic.bytesServed]);
      assert.equal((await admin.call('GET', '/api/cache/traffic?hours=0')).status, 400);

      const repos = (await admin.call<{ repositories: Array<{ repository: string; tags: number; images: number; pulls: number }> }>('GET', '/api/cache/repositories?upstream=hub')).body;
      assert.deepEqual(repos.repositories.map((r) => [r.repository, r.tags, r.images]), [['library/alpine', 1, 1]]);
      const images = (await admin.call<{ images: Array<{ digest: string; tags: string[]; size: number; pulls: number; pinned: boolean }> }>(
        'GET',
        '/api/cache/images?upstream=hub&repository=library/alpine',
      )).body.images;
      assert.equal(images.length, 1);
      assert.deepEqual(images[0]?.tags, ['3.20']);
      assert.equal(images[0]?.pulls, 2, 'the first pull stored it, the second was a hit');
      assert.ok((images[0]?.size ?? 0) > image);
      assert.equal(images[0]?.pinned, false);
      assert.equal((await admin.call('GET', '/api/cache/images?upstream=hub')).status, 400);
    });

    test('pins: add, list with their source, show on the image, remove; config pins are read-only; bad patterns name the field', async () => {
      const added = await admin.call<{ pins: Array<{ pin: string; source: string }> }>('POST', '/api/cache/pins', { pin: 'hub/library/alpine:3.*' });
      assert.deepEqual(added.body.pins, [
        { pin: 'hub/library/pinned-by-config', source: 'config' },
        { pin: 'hub/library/alpine:3.*', source: 'admin' },
      ]);
      const images = (await admin.call<{ images: Array<{ pinned: boolean }> }>('GET', '/api/cache/images?upstream=hub&repository=library/alpine')).body.images;
      assert.equal(images[0]?.pinned, true);
      const bad = await admin.call<{ fields: Array<{ path: string }> }>('POST', '/api/cache/pins', { pin: 'no-slash' });
      assert.equal(bad.status, 400);
      assert.equal(bad.body.fields[0]?.path, 'pin');
      assert.equal((await admin.call('DELETE', '/api/cache/pins', { pin: 'hub/library/pinned-by-config' })).status, 409);
      assert.equal((await admin.call('DELETE', '/api/cache/pins', { pin: 'hub/library/alpine:3.*' })).status, 200);
      assert.equal((await admin.call('DELETE', '/api/cache/pins', { pin: 'hub/library/alpine:3.*' })).status, 404);
    });

    test('evict runs on demand and reports nothing to do under the cap', async () => {
      const res = await admin.call('POST', '/api/cache/evict');
      assert.equal(res.status, 200);
      assert.deepEqual(res.body, { ran: false, removedImages: 0, removedBlobs: 0, bytes: 0 });
    });

    test('purge of an image by digest empties the repository view and the next pull goes upstream', async () => {
      const images = (await admin.call<{ images: Array<{ digest: string }> }>('GET', '/api/cache/images?upstream=hub&repository=library/alpine')).body.images;
      const digest = images[0]?.digest ?? '';
      const purged = await admin.call<{ manifests: number; blobs: number }>('POST', '/api/cache/purge', { digest });
      assert.equal(purged.status, 200);
      assert.equal(purged.body.manifests, 1);
      // The config blob stays: the other upstream's image has the very same config bytes and still refers to it.
      assert.equal(purged.body.blobs, 2);
      assert.deepEqual((await admin.call<{ images: unknown[] }>('GET', '/api/cache/images?upstream=hub&repository=library/alpine')).body.images, []);
      const blobGets = (r: { method: string; path: string }): boolean => r.method === 'GET' && r.path.startsWith('/v2/library/alpine/blobs/');
      const asked = hub.count(blobGets);
      await pull();
      assert.equal(hub.count(blobGets), asked + 2);
      const byRepo = await admin.call<{ tags: number }>('POST', '/api/cache/purge', { upstream: 'hub', repository: 'library/alpine' });
      assert.equal(byRepo.body.tags, 1);
      assert.equal((await admin.call('POST', '/api/cache/purge', { digest: 'nope' })).status, 400);
    });
  });

  describe('prefetch and activity', () => {
    test('prefetch pulls an image into the cache with progress; a missing image fails with its reason', async () => {
      hub.addImage('library/busybox', '1.36', [Buffer.alloc(70_000, 7), Buffer.alloc(9000, 8)]);
      type Totals = { bytesServed: number; bytesSaved: number; bytesPrefetched: number };
      const totals = async (): Promise<Totals> => (await admin.call<{ traffic: Totals }>('GET', '/api/cache/summary')).body.traffic;
      const before = await totals();
      const started = await admin.call<{ id: string; state: string }>('POST', '/api/prefetch', { images: ['busybox:1.36', 'library/nothing-here:1'] });
      assert.equal(started.status, 202);
      type Job = { state: string; images: Array<{ image: string; state: string; bytesDone: number; bytesTotal: number; blobsDone: number; blobsTotal: number; error?: string }> };
      const job = await admin.until<Job>(`/api/prefetch/${started.body.id}`, (j) => j.state !== 'running');
      // One of two done: partial, not failed; the failure names the upstream, its registry and the repository.
      assert.equal(job.state, 'partial');
      assert.deepEqual(job.images.map((i) => [i.image, i.state]), [['busybox:1.36', 'done'], ['library/nothing-here:1', 'failed']]);
      assert.equal(job.images[0]?.blobsDone, 3);
      assert.equal(job.images[0]?.bytesDone, job.images[0]?.bytesTotal);
      assert.match(job.images[1]?.error ?? '', /^hub \([^)]+\), repository library\/nothing-here: .*manifest unknown/i);
      // Prefetched bytes are counted on their own; Saved (bytes served from the cache) and Served do not move.
      const after = await totals();
      // Only what went upstream for the job: its two new layers (its small config has the same bytes as one pulled
      // before, so the cache had it).
      assert.equal(after.bytesPrefetched - before.bytesPrefetched, 70_000 + 9000);
      assert.equal(after.bytesSaved, before.bytesSaved);
      assert.equal(after.bytesServed, before.bytesServed);

      // Retry starts a new job with only what did not finish; cancel stops a job and says so.
      const retried = await admin.call<{ id: string; images: Array<{ image: string }> }>('POST', `/api/prefetch/${started.body.id}/retry`);
      assert.equal(retried.status, 202);
      assert.deepEqual(retried.body.images.map((i) => i.image), ['library/nothing-here:1']);
      const cancelled = await admin.call<{ state: string; images: Array<{ state: string }> }>('POST', `/api/prefetch/${retried.body.id}/cancel`);
      assert.equal(cancelled.status, 200);
      const settled = await admin.until<Job>(`/api/prefetch/${retried.body.id}`, (j) => j.state !== 'running');
      assert.ok(['cancelled', 'failed'].includes(settled.state), settled.state);
      assert.equal((await admin.call('POST', '/api/prefetch/nope/cancel')).status, 404);

      const asked = hub.count();
      const from = mirror.logs.length;
      const m = await get(mirror.url, '/v2/busybox/manifests/1.36');
      const doc = JSON.parse(m.body.toString()) as { layers: Array<{ digest: string }> };
      assert.equal((await get(mirror.url, `/v2/busybox/blobs/${doc.layers[0]?.digest}`)).status, 200);
      assert.equal(hub.count(), asked, 'served from the cache');
      // The access line is written when the response has ended, which may be just after the client has its bytes.
      const hitLine = (): boolean => mirror.logs.slice(from).some((l) => l.includes('"cache":"HIT"') && l.includes('/blobs/'));
      for (let i = 0; i < 50 && !hitLine(); i++) await new Promise((r) => setTimeout(r, 20));
      assert.ok(hitLine(), mirror.logs.slice(from).join('\n'));
      assert.ok((await admin.call<{ jobs: unknown[] }>('GET', '/api/prefetch')).body.jobs.length >= 1);
      assert.equal((await admin.call('GET', '/api/prefetch/nope')).status, 404);
      assert.equal((await admin.call('POST', '/api/prefetch', { images: [] })).status, 400);
      assert.equal((await admin.call('POST', '/api/prefetch', { images: ['x'], platforms: ['amd64'] })).status, 400);
    });

    test('prefetch narrows an index to the chosen platforms', async () => {
      const amd = hub.addImage('library/multi', 'amd', [Buffer.alloc(1000, 1)]);
      const arm = hub.addImage('library/multi', 'arm', [Buffer.alloc(1000, 2)]);
      hub.addIndex('library/multi', 'latest', [amd, arm]);
      const started = await admin.call<{ id: string }>('POST', '/api/prefetch', { images: ['multi'], platforms: ['linux/arm64'] });
      const job = await admin.until<{ state: string }>(`/api/prefetch/${started.body.id}`, (j) => j.state !== 'running');
      assert.equal(job.state, 'done');
      assert.ok(mirror.app.cache.index.manifest(arm.digest as never), 'the arm64 manifest is cached');
      assert.equal(mirror.app.cache.index.manifest(amd.digest as never), undefined, 'the amd64 one is not fetched');
    });

    test('activity lists recent requests, and the event stream sends a snapshot and then each finished request', async () => {
      await get(mirror.url, '/v2/busybox/manifests/1.36');
      const snap = (await admin.call<{ fills: unknown[]; recent: Array<{ repository?: string; kind?: string; cache?: string }> }>('GET', '/api/activity')).body;
      assert.deepEqual(snap.fills, []);
      assert.deepEqual(
        { repository: snap.recent[0]?.repository, kind: snap.recent[0]?.kind, cache: snap.recent[0]?.cache },
        { repository: 'library/busybox', kind: 'manifest', cache: 'HIT' },
      );

      const abort = new AbortController();
      const res = await request(`${admin.url}/api/activity/events`, { headers: { cookie: admin.cookie ?? '' }, signal: abort.signal });
      assert.equal(res.statusCode, 200);
      assert.match(String(res.headers['content-type']), /^text\/event-stream/);
      let text = '';
      const seen = new Promise<void>((resolve) => {
        res.body.on('data', (chunk: Buffer) => {
          text += chunk.toString();
          if (text.includes('event: snapshot') && text.includes('event: request')) resolve();
        });
      });
      res.body.on('error', () => undefined);
      await new Promise((r) => setTimeout(r, 100));
      await get(mirror.url, '/v2/busybox/manifests/1.36');
      await seen;
      abort.abort();
      const request1 = text.split('\n\n').find((e) => e.startsWith('event: request'));
      assert.match(request1 ?? '', /"repository":"library\/busybox"/);
    });
  });

  test('the admin listener serves /metrics (no login, for the scraper) with requests and each upstream URL\'s circuit', async () => {
    await get(mirror.url, '/v2/alpine/manifests/3.20');
    const res = await request(`${admin.url}/metrics`);
    assert.equal(res.statusCode, 200);
    const text = await res.body.text();
    assert.match(text, /^pullgate_requests_total\{upstream="hub",kind="manifest",method="GET",status="200",cache="(HIT|MISS|REVALIDATED)"\} [1-9]/m);
    assert.match(text, new RegExp(`^pullgate_upstream_circuit_state\\{upstream="hub",url="${hub.url.replace(/[.]/g, '\\.')}/?",state="closed"\\} 1$`, 'm'));
    assert.match(text, /^pullgate_upstream_consecutive_failures\{upstream="hub",/m);
    assert.equal((await get(mirror.url, '/metrics')).status, 404, 'never on the registry listener');
  });

  test('registry users: added with a password (kept hashed, never returned), listed, removed', async () => {
    const short = await admin.call<{ fields: Array<{ path: string }> }>('POST', '/api/users', { username: 'ci', password: 'short' });
    assert.equal(short.status, 400);
    assert.equal(short.body.fields[0]?.path, 'password');
    const added = await admin.call('POST', '/api/users', { username: 'ci', password: 'a-long-password' });
    assert.equal(added.status, 201);
    assert.ok(!added.text.includes('a-long-password'));
    assert.deepEqual((added.body as { users: Array<{ username: string; source: string }> }).users.map((u) => [u.username, u.source]), [['ci', 'stored']]);
    const db = await readFile(join(mirror.dataDir, 'pullgate.db'));
    const wal = await readFile(join(mirror.dataDir, 'pullgate.db-wal')).catch(() => Buffer.alloc(0));
    assert.ok(!db.includes('a-long-password') && !wal.includes('a-long-password'), 'only a hash is stored');
    assert.equal((await admin.call('DELETE', '/api/users/ci')).status, 204);
    assert.equal((await admin.call('DELETE', '/api/users/ci')).status, 404);
  });

  test('passthrough routes: validated (field named), added, listed with counters, refused twice, deleted', async () => {
    const bad = await admin.call<{ fields: Array<{ path: string }> }>('POST', '/api/passthrough', { sni: 'secure.example.test', to: 'no-port' });
    assert.equal(bad.status, 400);
    assert.equal(bad.body.fields[0]?.path, 'to');
    const added = await admin.call<{ routes: Array<{ sni: string; to: string; source: string; stats: { connections: number } }> }>('POST', '/api/passthrough', {
      sni: 'secure.example.test',
      to: '127.0.0.1:8443',
    });
    assert.equal(added.status, 201);
    assert.deepEqual(added.body.routes, [{ sni: 'secure.example.test', to: '127.0.0.1:8443', source: 'admin', stats: { connections: 0, active: 0, bytesIn: 0, bytesOut: 0 } }]);
    const twice = await admin.call<{ error: string; fields: Array<{ path: string }> }>('POST', '/api/passthrough', { sni: 'secure.example.test', to: '127.0.0.1:9443' });
    assert.equal(twice.status, 409);
    assert.equal(twice.body.fields[0]?.path, 'sni');
    assert.deepEqual(mirror.app.passthroughRoutes.list(), [{ sni: 'secure.example.test', to: '127.0.0.1:8443' }], 'applied to the SNI router');
    assert.equal((await admin.call('DELETE', '/api/passthrough/secure.example.test')).status, 204);
    assert.deepEqual(mirror.app.passthroughRoutes.list(), []);
  });

  test('setup snippets name the mirror address given, for the live upstreams', async () => {
    const res = await admin.call<{ mirror: string; snippets: Array<{ id: string; content: string }> }>('GET', '/api/setup?mirror=https://mirror.example.test');
    assert.equal(res.status, 200);
    assert.equal(res.body.mirror, 'https://mirror.example.test');
    const ids = res.body.snippets.map((s) => s.id);
    assert.ok(ids.includes('docker-daemon-json'));
    assert.ok(ids.includes('containerd-hosts-docker.io'));
    assert.match(res.body.snippets.find((s) => s.id === 'containerd-hosts-docker.io')?.content ?? '', /\[host\."https:\/\/mirror\.example\.test"\]/);
    // Without publicUrl or a certificate: this machine's host name on the bound listener's port (a loopback
    // listener said in words), never the loopback address itself.
    const fallback = await admin.call<{ mirror: string; mirrorFrom: string; warnings: string[] }>('GET', '/api/setup');
    assert.equal(new URL(fallback.body.mirror).port, new URL(mirror.url).port);
    if (fallback.body.mirrorFrom === 'hostname') {
      assert.notEqual(new URL(fallback.body.mirror).hostname, '127.0.0.1');
      assert.match(fallback.body.warnings.join('\n'), /listener binds 127\.0\.0\.1:\d+, a loopback address/);
    } else assert.equal(fallback.body.mirrorFrom, 'listener');
    const loopback = await admin.call<{ warnings: string[] }>('GET', `/api/setup?mirror=${encodeURIComponent(mirror.url)}`);
    assert.match(loopback.body.warnings[0] ?? '', /^127\.0\.0\.1 is a loopback address: only this machine can reach the mirror/);
    assert.equal((await admin.call('GET', '/api/setup?mirror=not-a-url')).status, 400);
  });
});
