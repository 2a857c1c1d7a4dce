// The rest of the admin API over real sockets: /metrics on the admin listener, registry users, passthrough routes
// and setup snippets. Authentication, upstreams, the cache and prefetch have files of their own
// (admin-api-*.test.ts).
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { request } from 'undici';
import type { AdminClient } from '../support/admin-client.js';
import { adminApiMirrorForSuite } from '../support/admin-api-mirror.js';
import type { FakeUpstream } from '../support/fake/fake-upstream.js';
import { get } from '../support/fake/mirror-over-fake.js';
import type { TestMirror } from '../support/mirror-app.js';

describe('admin API', () => {
  let hub: FakeUpstream;
  let mirror: TestMirror;
  let admin: AdminClient;

  adminApiMirrorForSuite((m) => ({ hub, mirror, admin } = m));

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
