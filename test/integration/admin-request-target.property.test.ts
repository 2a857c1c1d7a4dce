// The admin listener under generated request targets: any spelling of any declared non-public route (read from
// fastify's route list), sent without credentials or with a session cookie but no CSRF token, is refused and
// changes nothing. The promise is in docs/security.md ("Operator and admin"); admin-route-guard.test.ts walks the
// fixed spellings, this test the generated ones.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import fc from 'fast-check';
import { AdminClient } from '../support/admin-client.js';
import { adminTargetSpelling, propertyOptions } from '../support/grammar-arbitraries.js';
import { startMirror, type TestMirror } from '../support/mirror-app.js';
import { rawHttp } from '../support/raw-http.js';
import { declaredRoutes, type DeclaredRoute } from '../support/route-table.js';

const password = 'admin-password-for-tests';
const publicApi = new Set(['POST /api/login', 'GET /api/session', 'HEAD /api/session', 'GET /api/openapi.json', 'HEAD /api/openapi.json']);

/** A refusal the route could not have been reached through: 401/403/404, or 400 for a target that is not well-formed. */
function refused(status: number, target: string): boolean {
  if ([401, 403, 404].includes(status)) return true;
  let wellFormed = true;
  try {
    decodeURIComponent(target.replace(/[?#].*$/, ''));
  } catch {
    wellFormed = false;
  }
  return status === 400 && (!wellFormed || /[\\#]|%5C/i.test(target));
}

describe('admin request targets, generated', () => {
  let mirror: TestMirror;
  let session: AdminClient;
  let routes: DeclaredRoute[];

  before(async () => {
    mirror = await startMirror({ listen: { admin: '127.0.0.1:0' }, upstreams: [] }, { adminPassword: password });
    session = new AdminClient(mirror.adminUrl ?? '');
    assert.equal((await session.login(password)).status, 200);
    routes = declaredRoutes(mirror.app.admin as NonNullable<typeof mirror.app.admin>).filter(
      (r) => r.url.startsWith('/api') && !publicApi.has(`${r.method} ${r.url}`),
    );
  });

  after(async () => {
    await mirror?.close();
  });

  const rows = (): string => {
    const db = mirror.app.cache.db;
    const tables = db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name").all() as Array<{ name: string }>;
    return JSON.stringify(tables.map((t) => db.prepare(`SELECT * FROM "${t.name}"`).all()));
  };

  test('any spelling of any non-public route, without a login or without the CSRF token, is refused and changes nothing', async () => {
    const before = rows();
    const route = fc.constantFrom(...routes);
    const withSpelling = route.chain((r) => fc.tuple(fc.constant(r), adminTargetSpelling(r.url.replace(/:[A-Za-z]+/g, 'x'))));
    await fc.assert(
      fc.asyncProperty(withSpelling, fc.boolean(), async ([r, target], cookie) => {
        const changes = r.method !== 'GET' && r.method !== 'HEAD';
        const headers: Record<string, string> = { 'content-type': 'application/json', ...(cookie && changes ? { cookie: session.cookie ?? '' } : {}) };
        const res = await rawHttp(session.url, { method: r.method, target, headers, ...(changes ? { body: '{}' } : {}) });
        assert.ok(refused(res.status, target), `${r.method} ${target} -> ${res.status} ${res.body.slice(0, 120)}`);
      }),
      propertyOptions(600),
    );
    assert.equal(rows(), before);
  });
});
