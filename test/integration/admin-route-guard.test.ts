// Every route the admin listener declares, read from fastify's own route list: without credentials, with a wrong,
// deleted or foreign credential, and with a session cookie but no CSRF token (state changes), under every
// request-target spelling a router or proxy might read differently, each request is refused (401, 403 or 404) and
// changes nothing: the database, the data directory and the upstream see the same before and after. The promise is
// in docs/security.md ("Operator and admin").
import assert from 'node:assert/strict';
import { mkdtemp, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { AdminClient } from '../support/admin-client.js';
import { FakeUpstream } from '../support/fake/fake-upstream.js';
import { startMirror, type TestMirror } from '../support/mirror-app.js';
import { rawHttp, type RawAnswer } from '../support/raw-http.js';
import { declaredRoutes, type DeclaredRoute } from '../support/route-table.js';

const password = 'admin-password-for-tests';

/** What may be reached without a login: the login itself, the session probe, the API description, probes, the UI. */
const publicRoutes = new Set([
  'POST /api/login',
  'GET /api/session',
  'HEAD /api/session',
  'GET /api/openapi.json',
  'HEAD /api/openapi.json',
  'GET /healthz',
  'HEAD /healthz',
  'GET /readyz',
  'HEAD /readyz',
  'GET /metrics',
  'HEAD /metrics',
  'GET /',
  'HEAD /',
  'GET /index.html',
  'HEAD /index.html',
]);

const safeMethods = new Set(['GET', 'HEAD']);

/** The spellings of one path a lenient router, a proxy or a path normaliser might take for the same route. */
function targetVariants(path: string, authority: string): string[] {
  const segments = path.split('/').slice(1);
  const encodeLetters = (s: string, all: boolean): string => {
    let done = false;
    return s.replace(/[A-Za-z]/g, (c) => {
      if (done && !all) return c;
      done = true;
      return `%${c.charCodeAt(0).toString(16).toUpperCase()}`;
    });
  };
  const lower = (s: string) => s.replace(/%[0-9A-F]{2}/g, (e) => e.toLowerCase());
  const first = segments[0] ?? '';
  const rest = segments.slice(1).join('/');
  const tail = rest ? `/${rest}` : '';
  return [
    path,
    `${path}?`,
    `${path}?x=1`,
    `/${encodeLetters(first, false)}${tail}`,
    lower(`/${encodeLetters(first, false)}${tail}`),
    `/${segments.map((s) => encodeLetters(s, true)).join('/')}`,
    `http://${authority}${path}`,
    `http://evil.example${path}`,
    `HTTP://${authority.toUpperCase()}${path}`,
    `//${authority}${path}`,
    `/${path}`,
    path.replace(/\//g, '//'),
    `${path}/`,
    `${path}//`,
    `/.${path}`,
    `/./${first}${tail}`,
    `/x/..${path}`,
    `/%2e${path}`,
    `/x/%2e%2e${path}`,
    `/${first}/.${tail || '/'}`,
    path.toUpperCase(),
    `/${first.toUpperCase()}${tail}`,
    `/${segments.join('%2F')}`,
    `/${segments.join('%2f')}`,
    `${path}%2F`,
    `${path};`,
    `${path};x=1`,
    `${path}%00`,
    `${path}%20`,
    `${path}#x`,
  ];
}

/** A body each state-changing route accepts, so that a request let through would really change something. */
function bodyFor(route: DeclaredRoute, hubUrl: string): unknown {
  const upstream = { name: 'extra', registry: 'extra.example', url: hubUrl };
  const bodies: Record<string, unknown> = {
    'POST /api/upstreams': { name: 'intruder', registry: 'intruder.example', url: hubUrl },
    'PUT /api/upstreams/:name': { ...upstream, url: 'http://127.0.0.1:9' },
    'PATCH /api/upstreams/:name': { enabled: false },
    'POST /api/upstreams/test': { upstream, image: 'library/alpine:3.20' },
    'POST /api/upstreams/:name/test': { image: 'library/alpine:3.20' },
    'POST /api/tokens': { name: 'intruder' },
    'POST /api/users': { username: 'intruder', password: 'intruder-password' },
    'POST /api/cache/pins': { pin: 'hub/library/intruder' },
    'DELETE /api/cache/pins': { pin: 'hub/library/pinned-here' },
    'POST /api/cache/purge': { upstream: 'hub' },
    'POST /api/prefetch': { images: ['alpine:3.20'] },
    'POST /api/passthrough': { sni: 'intruder.example', to: '127.0.0.1:9' },
    'POST /api/logout': {},
  };
  return bodies[`${route.method} ${route.url}`] ?? {};
}

describe('the admin route guard, from the route table', () => {
  let hub: FakeUpstream;
  let mirror: TestMirror;
  let webDir: string;
  let routes: DeclaredRoute[];
  let session: AdminClient;
  let deletedToken: string;
  let loggedOutCookie: string;
  const params: Record<string, string> = {};

  before(async () => {
    hub = await new FakeUpstream().start();
    hub.addImage('library/alpine', '3.20', [Buffer.alloc(3000, 1)]);
    webDir = await mkdtemp(join(tmpdir(), 'pullgate-web-'));
    await writeFile(join(webDir, 'index.html'), '<!doctype html><title>Pullgate</title>');
    mirror = await startMirror(
      { listen: { admin: '127.0.0.1:0' }, upstreams: [{ name: 'hub', registry: 'docker.io', url: hub.url, default: true }] },
      { adminPassword: password, webDir },
    );
    session = new AdminClient(mirror.adminUrl ?? '');
    assert.equal((await session.login(password)).status, 200);
    // Something for every kind of parameter to name, so that a request let through would find its target.
    assert.equal((await session.call('POST', '/api/upstreams', { name: 'extra', registry: 'extra.example', url: hub.url })).status, 201);
    assert.equal((await session.call('POST', '/api/users', { username: 'alice', password: 'alice-password' })).status, 201);
    assert.equal((await session.call('POST', '/api/cache/pins', { pin: 'hub/library/pinned-here' })).status, 200);
    assert.equal((await session.call('POST', '/api/passthrough', { sni: 'kept.example', to: '127.0.0.1:9' })).status, 201);
    const kept = await session.call<{ id: string }>('POST', '/api/tokens', { name: 'kept' });
    const deleted = await session.call<{ id: string; token: string }>('POST', '/api/tokens', { name: 'deleted' });
    deletedToken = deleted.body.token;
    assert.equal((await session.call('DELETE', `/api/tokens/${deleted.body.id}`)).status, 204);
    const other = new AdminClient(session.url);
    await other.login(password);
    loggedOutCookie = other.cookie ?? '';
    assert.equal((await other.call('POST', '/api/logout')).status, 204);
    Object.assign(params, { name: 'extra', id: kept.body.id, username: 'alice', sni: 'kept.example', '*': 'x' });
    routes = declaredRoutes(mirror.app.admin as NonNullable<typeof mirror.app.admin>);
  });

  after(async () => {
    await mirror?.close();
    await hub?.stop();
    await rm(webDir, { recursive: true, force: true });
  });

  const concrete = (url: string): string => url.replace(/:([A-Za-z]+)/g, (_m, p: string) => params[p] ?? 'x').replace(/\*$/, 'x');

  /** The mirror's state a refused request must leave alone. */
  async function state(): Promise<string> {
    const db = mirror.app.cache.db;
    const tables = (db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name").all() as Array<{ name: string }>).map((t) => t.name);
    const rows = Object.fromEntries(tables.map((t) => [t, db.prepare(`SELECT * FROM "${t}"`).all()]));
    const files: string[] = [];
    const walk = async (dir: string): Promise<void> => {
      for (const e of await readdir(dir, { withFileTypes: true })) {
        const p = join(dir, e.name);
        if (e.isDirectory()) await walk(p);
        else if (!/\.db(-wal|-shm|-journal)?$/.test(e.name)) files.push(`${relative(mirror.dataDir, p)} ${(await stat(p)).size}`);
      }
    };
    await walk(mirror.dataDir);
    return JSON.stringify({ rows, files: files.sort(), upstreamRequests: hub.requests.length });
  }

  const authority = (): string => new URL(mirror.adminUrl ?? '').host;

  async function send(route: DeclaredRoute, target: string, headers: Record<string, string>): Promise<RawAnswer> {
    const body = safeMethods.has(route.method) ? undefined : JSON.stringify(bodyFor(route, hub.url));
    return rawHttp(mirror.adminUrl ?? '', {
      method: route.method,
      target,
      headers: { ...headers, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
      ...(body !== undefined ? { body } : {}),
    });
  }

  test('the route table is read from the server, and only the declared public routes answer without a login', async () => {
    assert.ok(routes.length >= 40, `read ${routes.length} routes`);
    assert.ok(routes.some((r) => r.method === 'POST' && r.url === '/api/upstreams'));
    const open: string[] = [];
    for (const r of routes) {
      const res = await send(r, concrete(r.url), {});
      if (![401, 403, 404].includes(res.status)) open.push(`${r.method} ${r.url}`);
    }
    assert.deepEqual(open.filter((r) => !publicRoutes.has(r)), [], 'routes answering without a login');
  });

  /** Credentials that are not one; `changesOnly`: a session cookie may read, so only state changes are refused. */
  const credentials: Array<{ name: string; headers: () => Record<string, string>; changesOnly?: boolean }> = [
    { name: 'no credentials', headers: () => ({}) },
    { name: 'a wrong API token', headers: () => ({ authorization: 'Bearer pgat_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA' }) },
    { name: 'a deleted API token', headers: () => ({ authorization: `Bearer ${deletedToken}` }) },
    { name: 'the admin password as Basic credentials', headers: () => ({ authorization: `Basic ${Buffer.from(`admin:${password}`).toString('base64')}` }) },
    { name: 'a logged-out session cookie', headers: () => ({ cookie: loggedOutCookie, 'x-csrf-token': session.csrfToken ?? '' }) },
    { name: 'a session cookie without the CSRF token', headers: () => ({ cookie: session.cookie ?? '' }), changesOnly: true },
    { name: 'a session cookie with a wrong CSRF token', headers: () => ({ cookie: session.cookie ?? '', 'x-csrf-token': 'x'.repeat(43) }), changesOnly: true },
  ];

  for (const cred of credentials) {
    test(`${cred.name}: every non-public route under every target spelling is 401, 403 or 404 and changes nothing`, async () => {
      const before = await state();
      const failures: string[] = [];
      let sent = 0;
      for (const r of routes) {
        if (publicRoutes.has(`${r.method} ${r.url}`)) continue;
        if (cred.changesOnly && safeMethods.has(r.method)) continue;
        const targets = targetVariants(concrete(r.url), authority());
        for (let i = 0; i < targets.length; i += 8) {
          const answers = await Promise.all(targets.slice(i, i + 8).map(async (t) => ({ t, res: await send(r, t, cred.headers()) })));
          for (const { t, res } of answers) {
            sent++;
            if (![401, 403, 404].includes(res.status)) failures.push(`${r.method} ${t} -> ${res.status} ${res.body.slice(0, 100)}`);
          }
        }
      }
      assert.ok(sent > 300, `sent ${sent} requests`);
      assert.deepEqual(failures, []);
      assert.equal(await state(), before, 'a refused request changed the mirror');
    });
  }

  test('the state check sees a change: the same request with a valid session does change the mirror', async () => {
    const before = await state();
    const res = await session.call('POST', '/api/cache/pins', { pin: 'hub/library/control' });
    assert.equal(res.status, 200);
    assert.notEqual(await state(), before);
    assert.equal((await session.call('DELETE', '/api/cache/pins', { pin: 'hub/library/control' })).status, 200);
  });

  test('a percent-encoded route name with a valid API token reaches the same route as the plain one', async () => {
    const created = await session.call<{ token: string }>('POST', '/api/tokens', { name: 'encoded' });
    const res = await rawHttp(session.url, { method: 'GET', target: '/%61pi/upstreams', headers: { authorization: `Bearer ${created.body.token}` } });
    assert.equal(res.status, 200);
  });
});

describe('the admin answers only to its own host names and to origin-form targets', () => {
  let mirror: TestMirror;
  let port: string;

  before(async () => {
    mirror = await startMirror(
      { listen: { admin: '127.0.0.1:0' }, publicUrl: 'https://mirror.example.com', admin: { hosts: ['Admin.Example.Com'] }, upstreams: [] },
      { adminPassword: password },
    );
    port = new URL(mirror.adminUrl ?? '').port;
  });

  after(async () => {
    await mirror?.close();
  });

  const get = (target: string, host: string) => rawHttp(mirror.adminUrl ?? '', { method: 'GET', target, headers: { host } });

  test('a host name the operator did not give (DNS rebinding) is 403 HOST_REFUSED on every route, public ones included', async () => {
    for (const host of [`evil.example:${port}`, 'evil.example', `admin.example.com.evil.example:${port}`, `127.0.0.1.nip.io:${port}`, `localhost@evil.example:${port}`, '']) {
      for (const target of ['/api/session', '/api/upstreams', '/healthz', '/metrics', '/', '/nothing-here']) {
        const res = await get(target, host);
        assert.equal(res.status, 403, `${host} ${target}`);
        assert.match(res.body, /HOST_REFUSED/);
      }
    }
    const res = await get('/api/session', `evil.example:${port}`);
    assert.match(JSON.parse(res.body).message, /admin\.hosts/);
  });

  test('IP addresses, localhost, publicUrl and admin.hosts names (any case, port or trailing dot) are answered', async () => {
    for (const host of [`127.0.0.1:${port}`, `[::1]:${port}`, `localhost:${port}`, `LocalHost.:${port}`, `ui.localhost:${port}`, 'mirror.example.com', `admin.example.com:${port}`, 'ADMIN.example.com.:443']) {
      const res = await get('/api/session', host);
      assert.equal(res.status, 200, host);
    }
  });

  test('an absolute-form target is 403 TARGET_REFUSED, even for a public route and the listener own authority', async () => {
    for (const target of [`http://127.0.0.1:${port}/api/session`, `http://127.0.0.1:${port}/healthz`, 'https://localhost/api/session', '*']) {
      const res = await get(target, `127.0.0.1:${port}`);
      assert.equal(res.status, 403, target);
      assert.match(res.body, /TARGET_REFUSED/);
    }
  });
});
