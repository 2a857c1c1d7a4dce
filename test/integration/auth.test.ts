import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, test } from 'node:test';
import { errorCode, get, mirrorOverFake, type Setup } from '../support/fake/mirror-over-fake.js';
import { FakeUpstream } from '../support/fake/fake-upstream.js';
import { startMirror } from '../support/mirror-app.js';
import { httpsListener, protocols, registryClient, type RegistryClient } from '../support/registry-client.js';

const tokenRequests = (s: Setup) => s.up.count((r) => r.path === '/token');

for (const protocol of protocols) describe(`mirror mode: the mirror does the token dance (${protocol})`, () => {
  let s: Setup;
  let c: RegistryClient;
  before(async () => {
    // tagTtl 0: every tag request revalidates upstream, so each test sees its own upstream traffic.
    s = await mirrorOverFake({ auth: true, tokenExpiresIn: 300 }, { tagTtl: 0 });
    c = await s.client(protocol);
    s.up.addImage('library/alpine', '3.20', [Buffer.alloc(100, 1)]);
  });
  after(() => s.close());
  beforeEach(() => s.up.reset());

  test('fifty manifest requests within a token\'s lifetime make one token request', async () => {
    for (let i = 0; i < 50; i++) assert.equal((await get(c, '/v2/library/alpine/manifests/3.20')).status, 200);
    assert.equal(tokenRequests(s), 1);
    // Only the very first request meets a 401; after it the challenge is known and tokens go out up front.
    assert.equal(s.up.count((r) => r.path.includes('/manifests/') && r.headers.authorization === undefined), 1);
  });

  test('concurrent requests for a new scope share one token fetch', async () => {
    s.up.addImage('team/concurrent', '1', [Buffer.alloc(10, 9)]);
    await get(c, '/v2/library/alpine/manifests/3.20');
    s.up.reset();
    const all = await Promise.all(Array.from({ length: 20 }, () => get(c, '/v2/team/concurrent/manifests/1')));
    for (const r of all) assert.equal(r.status, 200);
    assert.equal(tokenRequests(s), 1);
  });

  test('an invalid_token answer makes one refresh and one retry', async () => {
    await get(c, '/v2/library/alpine/manifests/3.20');
    s.up.reset();
    s.up.faults.invalidTokenTimes = 1;
    const r = await get(c, '/v2/library/alpine/manifests/3.20');
    assert.equal(r.status, 200);
    assert.equal(tokenRequests(s), 1);
    assert.equal(s.up.count((q) => q.path.endsWith('/manifests/3.20')), 2);
  });

  test('a token that stays invalid is refused after one refresh, not retried forever', async () => {
    await get(c, '/v2/library/alpine/manifests/3.20');
    s.up.reset();
    s.up.faults.invalidTokenTimes = 100;
    const r = await get(c, '/v2/library/alpine/manifests/3.20');
    assert.equal(r.status, 403);
    assert.equal(errorCode(r), 'DENIED');
    assert.equal(tokenRequests(s), 1);
    s.up.faults.invalidTokenTimes = 0;
  });

  test('a client\'s Authorization header is never forwarded upstream in mirror mode', async () => {
    await get(c, '/v2/library/alpine/manifests/3.20', { headers: { authorization: 'Bearer client-secret-token' } });
    for (const q of s.up.requests) assert.notEqual(q.headers.authorization, 'Bearer client-secret-token');
  });

  test('a private repository without configured credentials is DENIED', async () => {
    s.up.addImage('private/thing', '1', [Buffer.alloc(10, 4)]);
    const r = await get(c, '/v2/private/thing/manifests/1');
    assert.equal(r.status, 403);
    assert.equal(errorCode(r), 'DENIED');
  });
});

for (const protocol of protocols) describe(`mirror mode with configured credentials (${protocol})`, () => {
  let up: FakeUpstream;
  let mirror: Awaited<ReturnType<typeof startMirror>>;
  let c: RegistryClient;
  before(async () => {
    up = await new FakeUpstream({ auth: true, users: { robot: 's3cret-pw' } }).start();
    up.addImage('private/thing', '1', [Buffer.alloc(10, 4)]);
    mirror = await startMirror({ ...(await httpsListener()), upstreams: [{ name: 'corp', registry: 'corp.test', url: up.url, default: true, auth: { username: 'robot', password: 's3cret-pw' } }] });
    c = await registryClient(protocol, mirror);
  });
  after(async () => {
    await c.close();
    await mirror.close();
    await up.stop();
  });

  test('the mirror fetches tokens with Basic auth and account, and the password never reaches the logs', async () => {
    const r = await get(c, '/v2/private/thing/manifests/1');
    assert.equal(r.status, 200);
    const tokenReq = up.requests.find((q) => q.path === '/token');
    assert.equal(tokenReq?.query.get('account'), 'robot');
    assert.match(String(tokenReq?.headers.authorization), /^Basic /);
    assert.ok(!mirror.logs.join('\n').includes('s3cret-pw'));
  });
});

for (const protocol of protocols) describe(`passthrough mode: the client's own credentials (${protocol})`, () => {
  let s: Setup;
  let c: RegistryClient;
  const passHost = { host: 'pass.mirror.test' };
  const realm = (): string => `${c.scheme}://pass.mirror.test/token/pass`;
  before(async () => {
    s = await mirrorOverFake({ auth: true, users: { alice: 'alice-pw' } });
    c = await s.client(protocol);
    s.up.addImage('private/thing', '1', [Buffer.alloc(64, 4)]);
    s.up.addImage('library/alpine', '3.20', [Buffer.alloc(100, 1)]);
  });
  after(() => s.close());
  beforeEach(() => s.up.reset());

  test('GET /v2/ on a passthrough host challenges with the mirror\'s token endpoint', async () => {
    const r = await get(c, '/v2/', { headers: passHost });
    assert.equal(r.status, 401);
    assert.equal(r.headers['www-authenticate'], `Bearer realm="${realm()}",service="fake-registry"`);
  });

  test('manifest and blob 401s carry the rewritten realm with the upstream\'s service and scope', async () => {
    const m = await get(c, '/v2/private/thing/manifests/1', { headers: passHost });
    assert.equal(m.status, 401);
    assert.equal(m.headers['www-authenticate'], `Bearer realm="${realm()}",service="fake-registry",scope="repository:private/thing:pull"`);
    const digest = JSON.parse(s.up.manifests.get('private/thing')!.get('1')!.bytes.toString()).layers[0].digest as string;
    const b = await get(c, `/v2/private/thing/blobs/${digest}`, { headers: passHost });
    assert.equal(b.status, 401);
    assert.ok(String(b.headers['www-authenticate']).startsWith(`Bearer realm="${realm()}"`));
  });

  test('the token endpoint relays GET with Basic, account and every scope, and answers token and access_token', async () => {
    const basic = `Basic ${Buffer.from('alice:alice-pw').toString('base64')}`;
    const r = await get(c, '/token/pass?service=fake-registry&account=alice&scope=repository:private/thing:pull&scope=repository:alpine:pull', {
      headers: { authorization: basic },
    });
    assert.equal(r.status, 200);
    const body = JSON.parse(r.body.toString()) as { token: string; access_token: string; expires_in: number; issued_at: string };
    assert.equal(body.token, body.access_token);
    assert.ok(body.expires_in >= 60);
    assert.ok(body.issued_at);
    const relayed = s.up.requests.find((q) => q.path === '/token')!;
    assert.equal(relayed.headers.authorization, basic);
    assert.equal(relayed.query.get('account'), 'alice');
    assert.deepEqual(relayed.query.getAll('scope'), ['repository:private/thing:pull', 'repository:alpine:pull']);

    const m = await get(c, '/v2/private/thing/manifests/1', { headers: { ...passHost, authorization: `Bearer ${body.token}` } });
    assert.equal(m.status, 200);
  });

  test('the token endpoint relays the OAuth2 POST form', async () => {
    const res = await c.fetch('/token/pass', {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: 'grant_type=password&username=alice&password=alice-pw&service=fake-registry&client_id=containerd-client&scope=repository%3Aprivate%2Fthing%3Apull',
    });
    assert.equal(res.status, 200);
    const relayed = s.up.requests.find((q) => q.path === '/token' && q.method === 'POST');
    assert.ok(relayed, 'POST relayed');
  });

  test('a bearer token reaches the upstream but never the redirect host', async () => {
    const basic = `Basic ${Buffer.from('alice:alice-pw').toString('base64')}`;
    const t = JSON.parse((await get(c, '/token/pass?scope=repository:private/thing:pull', { headers: { authorization: basic } })).body.toString()) as { token: string };
    s.up.faults.redirectBlobs = 'absolute';
    const digest = JSON.parse(s.up.manifests.get('private/thing')!.get('1')!.bytes.toString()).layers[0].digest as string;
    const b = await get(c, `/v2/private/thing/blobs/${digest}`, { headers: { ...passHost, authorization: `Bearer ${t.token}` } });
    assert.equal(b.status, 200);
    assert.equal(b.body.length, 64);
    const cdn = s.up.requests.filter((q) => q.origin === 'cdn');
    assert.equal(cdn.length, 1);
    assert.equal(cdn[0]!.headers.authorization, undefined);
    assert.ok(s.up.requests.some((q) => q.origin === 'registry' && q.headers.authorization === `Bearer ${t.token}`));
  });

  test('a token request for an upstream in mirror mode or an unknown upstream is refused', async () => {
    for (const name of ['hub', 'nope']) {
      const r = await get(c, `/token/${name}?scope=repository:x:pull`);
      assert.equal(r.status, 404, name);
      assert.equal(errorCode(r), 'NOT_FOUND');
    }
    assert.equal(s.up.requests.length, 0);
  });

  test('client credentials and tokens never reach the logs', async () => {
    const basic = `Basic ${Buffer.from('alice:alice-pw').toString('base64')}`;
    await get(c, '/token/pass?scope=repository:private/thing:pull', { headers: { authorization: basic } });
    const logs = s.mirror.logs.join('\n');
    assert.ok(!logs.includes('alice-pw'));
    assert.ok(!logs.includes(basic));
    assert.ok(!/Bearer [A-Za-z0-9]/.test(logs));
  });
});
