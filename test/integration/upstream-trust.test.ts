// The mirror-and-upstream boundary (docs/security.md, "Mirror and upstream"), against a hostile upstream: the
// configured credentials and the tokens fetched with them go only to the upstream's own origin and the realm it
// announced, never to a redirect host and never over plain http from an https upstream; token realms and relays
// at private addresses are refused for a public upstream; token bodies are read with a cap.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, beforeEach, describe, test } from 'node:test';
import { testUpstream } from '../../src/upstream/upstream-test.js';
import { Upstream } from '../../src/upstream/upstream.js';
import { startConnectProxy, type ConnectProxy } from '../support/connect-proxy.js';
import { HostileUpstream, sha256, type HostileRequest } from '../support/fake/hostile-upstream.js';
import { errorCode, get } from '../support/fake/mirror-over-fake.js';
import { startMirror, type TestMirror } from '../support/mirror-app.js';
import { createTestCa } from '../support/pki.js';
import { upstreamConfig } from '../support/upstream-config.js';

const puller = { username: 'puller', password: 'upstream-secret-1' };
const basic = `Basic ${Buffer.from(`${puller.username}:${puller.password}`).toString('base64')}`;
const once = { attempts: 1 };

let tags = 0;
/** A tag the mirror has never cached, so that every test goes upstream. */
const freshTag = (up: HostileUpstream, repo: string): string => {
  const tag = `t${++tags}`;
  up.addImage(repo, tag, [randomBytes(512)]);
  return tag;
};

const bearerOf = (r: HostileRequest): string | undefined => {
  const auth = r.headers.authorization;
  return auth?.startsWith('Bearer ') ? auth.slice(7) : undefined;
};

describe('the configured credentials and the tokens fetched with them (mirror mode, https upstream)', () => {
  let dir: string;
  let up: HostileUpstream;
  let mirror: TestMirror;
  let layer: Buffer;
  let layerDigest: string;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'pullgate-trust-'));
    const ca = await createTestCa(dir);
    const cert = await ca.issue('hostile', ['localhost'], ['127.0.0.1']);
    up = await new HostileUpstream({ tls: cert, users: { [puller.username]: puller.password } }).start();
    layer = randomBytes(2048);
    up.addImage('library/app', '1', [layer]);
    layerDigest = sha256(layer);
    mirror = await startMirror({
      upstreams: [
        { name: 'hub', registry: 'docker.io', url: up.url, ca: ca.caCertPath, default: true, auth: puller, retries: once },
        { name: 'wrong', registry: 'wrong.test', hosts: ['wrong.test'], url: up.url, ca: ca.caCertPath, auth: { username: 'puller', password: 'not-the-password' }, retries: once },
        { name: 'pass', registry: 'pass.example.test', hosts: ['pass.mirror.test'], url: up.url, ca: ca.caCertPath, auth: { mode: 'passthrough' }, retries: once },
        // Learns its realm (once, for good) in the plain-http test only.
        { name: 'downgraded', registry: 'downgraded.test', hosts: ['downgraded.test'], url: up.url, ca: ca.caCertPath, auth: { mode: 'passthrough' }, retries: once },
      ],
    });
  });
  after(async () => {
    await mirror?.close();
    await up?.stop();
    await rm(dir, { recursive: true, force: true });
  });
  beforeEach(() => up.reset());

  test('the realm the upstream announced on another host (as auth.docker.io) gets the credentials; the registry gets the token', async () => {
    up.hostility.realm = 'elsewhere';
    const r = await get(mirror.url, `/v2/app/manifests/${freshTag(up, 'library/app')}`);
    assert.equal(r.status, 200);
    const tokenRequests = up.requests.filter((q) => q.host === 'elsewhere' && q.path === '/token');
    assert.ok(tokenRequests.length > 0);
    assert.ok(tokenRequests.every((q) => q.headers.authorization === basic));
    const used = up.requests.filter((q) => q.host === 'registry').map(bearerOf).filter((t) => t !== undefined);
    assert.ok(used.length > 0 && used.every((t) => up.issued.get(t)?.withCredentials === true));
  });

  test('a CDN answering 401 with a realm of its own gets neither the credentials nor a token fetched with them', async () => {
    up.hostility.cdnAnswers401 = true;
    const r = await get(mirror.url, `/v2/app/blobs/${layerDigest}`);
    assert.notEqual(r.status, 200);
    const atCdn = up.requests.filter((q) => q.host === 'elsewhere');
    assert.ok(atCdn.length > 0, 'the redirect was followed');
    assert.deepEqual(atCdn.filter((q) => q.headers.authorization?.startsWith('Basic')), [], 'no Basic credentials on the CDN host');
    for (const token of atCdn.map(bearerOf).filter((t) => t !== undefined)) {
      assert.deepEqual(up.issued.get(token), { host: 'elsewhere', withCredentials: false }, 'at most an anonymous token of its own realm');
    }
  });

  test("an https upstream's plain-http realm is refused: nothing is sent to it, and the error says why", async () => {
    up.hostility.realm = 'plain-http';
    const r = await get(mirror.url, `/v2/app/manifests/${freshTag(up, 'library/app')}`);
    assert.equal(r.status, 502);
    assert.equal(errorCode(r), 'UPSTREAM_INVALID');
    assert.match(r.body.toString(), /plain-http token realm/);
    assert.equal(up.count((q) => q.host === 'plain'), 0);
  });

  test("the token relay refuses an https upstream's plain-http realm: the client's credentials are not sent over plain http", async () => {
    up.hostility.realm = 'plain-http';
    const r = await get(mirror.url, '/token/downgraded?service=hostile&scope=repository:team/app:pull', { headers: { host: 'downgraded.test', authorization: basic } });
    assert.equal(r.status, 502);
    assert.equal(errorCode(r), 'UPSTREAM_INVALID');
    assert.match(r.body.toString(), /plain-http token realm/);
    assert.equal(up.count((q) => q.host === 'plain'), 0);
  });

  test('a token answer that never ends is refused at the cap, not read whole', { timeout: 20_000 }, async () => {
    up.hostility.tokenBodyBytes = Infinity;
    const r = await get(mirror.url, `/v2/app/manifests/${freshTag(up, 'library/app')}`);
    assert.equal(r.status, 502);
    assert.equal(errorCode(r), 'UPSTREAM_INVALID');
    assert.match(r.body.toString(), /token answer is larger than 1048576 bytes/);
  });

  test('a token answer announcing a huge Content-Length is refused before its body is read', async () => {
    up.hostility.contentLengthLie = 50 * 1024 * 1024 * 1024;
    const r = await get(mirror.url, `/v2/app/manifests/${freshTag(up, 'library/app')}`);
    assert.equal(r.status, 502);
    assert.equal(errorCode(r), 'UPSTREAM_INVALID');
    assert.match(r.body.toString(), /larger than/);
  });

  test("a token service's refusal with an endless body is a prompt DENIED", { timeout: 20_000 }, async () => {
    up.hostility.errorBodyBytes = Infinity;
    const r = await get(mirror.url, `/v2/app/manifests/${freshTag(up, 'library/app')}`, { headers: { host: 'wrong.test' } });
    assert.equal(r.status, 403);
    assert.equal(errorCode(r), 'DENIED');
  });

  test('an endless error body on a manifest answer is read only up to a cap: the client gets its 404 at once', { timeout: 20_000 }, async () => {
    up.hostility.errorBodyBytes = Infinity;
    const r = await get(mirror.url, '/v2/app/manifests/no-such-tag');
    assert.equal(r.status, 404);
    assert.equal(errorCode(r), 'MANIFEST_UNKNOWN');
  });

  test("the token relay passes on a token service's refusal with an endless body at once", { timeout: 20_000 }, async () => {
    up.hostility.errorBodyBytes = Infinity;
    const r = await get(mirror.url, '/token/pass?service=hostile&scope=repository:team/app:pull', {
      headers: { host: 'pass.mirror.test', authorization: `Basic ${Buffer.from('puller:wrong-password').toString('base64')}` },
    });
    assert.equal(r.status, 401);
    assert.equal(errorCode(r), 'UNAUTHORIZED');
  });

  test('a token answer that never ends is refused by the token relay too', { timeout: 20_000 }, async () => {
    up.hostility.tokenBodyBytes = Infinity;
    const r = await get(mirror.url, '/token/pass?service=hostile&scope=repository:team/app:pull', { headers: { host: 'pass.mirror.test', authorization: basic } });
    assert.equal(r.status, 502);
    assert.equal(errorCode(r), 'UPSTREAM_INVALID');
    assert.match(r.body.toString(), /token answer is larger than/);
  });
});

describe('token realms and relays at private addresses (a public upstream)', () => {
  let up: HostileUpstream;
  let proxy: ConnectProxy;
  let mirror: TestMirror;
  let publicUrl: string;
  const created: Upstream[] = [];

  before(async () => {
    up = await new HostileUpstream({ names: { registry: 'registry.public.test', elsewhere: 'auth.public.test' } }).start();
    up.addImage('library/app', '1', [randomBytes(1024)]);
    up.addImage('team/app', '1', [randomBytes(1024)]);
    // The upstream and its realm host have public-looking names only the egress proxy resolves, as on the internet.
    proxy = await startConnectProxy({ hosts: { 'registry.public.test': '127.0.0.1', 'auth.public.test': '127.0.0.1' } });
    publicUrl = up.url;
    const privateUrl = up.url.replace('registry.public.test', '127.0.0.1');
    mirror = await startMirror({
      upstreams: [
        { name: 'hub', registry: 'docker.io', url: publicUrl, proxy: proxy.url, default: true, retries: once },
        { name: 'pass', registry: 'pass.example.test', hosts: ['pass.mirror.test'], url: publicUrl, proxy: proxy.url, auth: { mode: 'passthrough' }, retries: once },
        { name: 'inside', registry: 'inside.test', hosts: ['inside.test'], url: privateUrl, retries: once },
      ],
    });
  });
  after(async () => {
    await Promise.all(created.map((u) => u.close()));
    await mirror?.close();
    await proxy?.close();
    await up?.stop();
  });
  beforeEach(() => up.reset());

  for (const [what, realm] of [
    ['a private address', () => `${up.plainUrl}/token`],
    ['a name that resolves to loopback (localhost)', () => up.plainUrl.replace('127.0.0.1', 'localhost') + '/token'],
  ] as const) {
    test(`a realm at ${what} is refused, says why, and is never dialled`, async () => {
      up.hostility.realm = { url: realm() };
      const r = await get(mirror.url, `/v2/app/manifests/${freshTag(up, 'library/app')}`);
      assert.equal(r.status, 502);
      assert.equal(errorCode(r), 'UPSTREAM_INVALID');
      assert.match(r.body.toString(), /private address .*allowPrivateRedirects/);
      assert.equal(up.count((q) => q.host === 'plain'), 0);
    });
  }

  test('the passthrough token relay refuses a realm at a private address, and never dials it', async () => {
    up.hostility.realm = { url: `${up.plainUrl}/token` };
    const r = await get(mirror.url, '/token/pass?scope=repository:team/app:pull', { headers: { host: 'pass.mirror.test' } });
    assert.equal(r.status, 502);
    assert.equal(errorCode(r), 'UPSTREAM_INVALID');
    assert.equal(up.count((q) => q.host === 'plain'), 0);
  });

  test("the admin's upstream test refuses that realm too, and names the refusal", async () => {
    up.hostility.realm = { url: `${up.plainUrl}/token` };
    const upstream = new Upstream(upstreamConfig('hub', 'docker.io', { url: new URL(publicUrl), proxy: proxy.url, retries: { attempts: 1, minDelayMs: 1, maxDelayMs: 1 } }), {
      timeouts: { connect: 2000, headers: 2000, idle: 2000 },
    });
    created.push(upstream);
    const result = await testUpstream(upstream, `app:${freshTag(up, 'library/app')}`);
    assert.equal(result.ok, false);
    const failed = result.steps.find((s) => !s.ok);
    assert.match(failed?.detail ?? '', /private address 127\.0\.0\.1/);
    assert.equal(up.count((q) => q.host === 'plain'), 0);
  });

  test('a realm on another public host still works', async () => {
    up.hostility.realm = 'elsewhere';
    const r = await get(mirror.url, `/v2/app/manifests/${freshTag(up, 'library/app')}`);
    assert.equal(r.status, 200);
    assert.ok(up.count((q) => q.host === 'elsewhere' && q.path === '/token') > 0);
  });

  test('an upstream that is itself private may announce a realm at a private address', async () => {
    up.hostility.realm = { url: `${up.plainUrl}/token` };
    const r = await get(mirror.url, `/v2/team/app/manifests/${freshTag(up, 'team/app')}`, { headers: { host: 'inside.test' } });
    assert.equal(r.status, 200);
    assert.ok(up.count((q) => q.host === 'plain' && q.path === '/token') > 0);
  });

  test('a manifest naming blobs the upstream never served: the manifest is served as sent, each named blob is BLOB_UNKNOWN', async () => {
    up.hostility.realm = { url: `${up.plainUrl}/token` };
    const phantom = [sha256(randomBytes(64)), sha256(randomBytes(64))];
    const digest = up.addManifestNaming('team/ghost', '1', phantom);
    const m = await get(mirror.url, '/v2/team/ghost/manifests/1', { headers: { host: 'inside.test' } });
    assert.equal(m.status, 200);
    assert.equal(m.headers['docker-content-digest'], digest);
    for (const blob of phantom) {
      const r = await get(mirror.url, `/v2/team/ghost/blobs/${blob}`, { headers: { host: 'inside.test' } });
      assert.equal(r.status, 404);
      assert.equal(errorCode(r), 'BLOB_UNKNOWN');
    }
  });
});
