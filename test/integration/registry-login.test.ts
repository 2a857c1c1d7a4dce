// Pullgate's own registry login (access.login: required), as docs/security.md ("Client and mirror", registry login)
// promises: the token endpoint is admitted like every registry request (address lists, request rate), password
// guesses are limited per client and counted before the check, an unknown user costs what a wrong password costs,
// and a removed user's tokens stop working at once. Clients are told apart by X-Forwarded-For from a trusted proxy.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { request } from 'undici';
import { AdminClient } from '../support/admin-client.js';
import { FakeUpstream } from '../support/fake/fake-upstream.js';
import { startMirror, type TestMirror } from '../support/mirror-app.js';

const adminPassword = 'admin-password-for-tests';

describe('registry login', () => {
  let up: FakeUpstream;
  let mirror: TestMirror;
  let admin: AdminClient;
  let nextClient = 1;
  /** A fresh client address each call, so that one test's failures do not limit another's. */
  const client = (): string => `198.51.100.${nextClient++}`;

  before(async () => {
    up = await new FakeUpstream().start();
    up.addImage('library/alpine', '3.20', [Buffer.alloc(100, 1)]);
    mirror = await startMirror(
      {
        listen: { admin: '127.0.0.1:0' },
        access: { login: 'required', trustedProxies: ['127.0.0.1'], deny: ['192.0.2.66'], limits: { requestsPerSecond: 0.5, burst: 8 } },
        upstreams: [{ name: 'hub', registry: 'docker.io', url: up.url, default: true }],
      },
      { adminPassword },
    );
    admin = new AdminClient(mirror.adminUrl ?? '');
    assert.equal((await admin.login(adminPassword)).status, 200);
    for (const username of ['alice', 'bob']) assert.equal((await admin.call('POST', '/api/users', { username, password: `${username}-password` })).status, 201);
  });

  after(async () => {
    await mirror?.close();
    await up?.stop();
  });

  const basic = (user: string, pw: string) => `Basic ${Buffer.from(`${user}:${pw}`).toString('base64')}`;

  async function token(from: string, authorization?: string): Promise<{ status: number; token?: string; retryAfter?: string }> {
    const res = await request(`${mirror.url}/auth/token?service=pullgate&scope=repository:library/alpine:pull`, {
      headers: { 'x-forwarded-for': from, ...(authorization ? { authorization } : {}) },
    });
    const body = (await res.body.json().catch(() => ({}))) as { token?: string };
    return { status: res.statusCode, ...(body.token ? { token: body.token } : {}), ...(res.headers['retry-after'] ? { retryAfter: String(res.headers['retry-after']) } : {}) };
  }

  async function pull(from: string, bearer: string): Promise<number> {
    const res = await request(`${mirror.url}/v2/library/alpine/manifests/3.20`, { headers: { 'x-forwarded-for': from, authorization: `Bearer ${bearer}` } });
    await res.body.dump();
    return res.statusCode;
  }

  test('a denied address gets no token, even with the right password', async () => {
    assert.equal((await token('192.0.2.66', basic('alice', 'alice-password'))).status, 403);
  });

  test('the token endpoint counts toward the client request rate', async () => {
    const from = client();
    const statuses: number[] = [];
    for (let i = 0; i < 10; i++) statuses.push((await token(from, basic('alice', 'alice-password'))).status);
    assert.deepEqual(statuses, [200, 200, 200, 200, 200, 200, 200, 200, 429, 429]);
  });

  test('wrong passwords are limited per client: after five, even the right one waits (429 with Retry-After)', async () => {
    const from = client();
    // The right pair is now remembered for a minute: a client out of attempts must not get it checked for free.
    assert.equal((await token(client(), basic('alice', 'alice-password'))).status, 200);
    // Six requests: within the request rate's burst (8), so the 429 is the login limit's.
    for (let i = 0; i < 5; i++) assert.equal((await token(from, basic('alice', `wrong-${i}`))).status, 401);
    const blocked = await token(from, basic('alice', 'alice-password'));
    assert.equal(blocked.status, 429);
    assert.ok(Number(blocked.retryAfter) > 0);
    assert.equal((await token(client(), basic('alice', 'alice-password'))).status, 200, 'another client is not limited');
  });

  test('parallel wrong passwords from one client get at most five checks', async () => {
    const from = client();
    const answers = await Promise.all(
      Array.from({ length: 12 }, (_, i) =>
        request(`${mirror.url}/auth/token`, {
          method: 'POST',
          headers: { 'x-forwarded-for': from, 'content-type': 'application/x-www-form-urlencoded' },
          body: `grant_type=password&username=alice&password=wrong-${i}&service=pullgate`,
        }).then(async (r) => (await r.body.dump(), r.statusCode)),
      ),
    );
    assert.ok(answers.filter((s) => s === 401).length <= 5, answers.join(' '));
  });

  test('guesses spread over the /64s of one IPv6 /48 get 25 checks in all; another /48 is not limited', async () => {
    const in48 = (n: number) => `2001:db8:48:${n.toString(16)}::7`;
    for (let n = 0; n < 25; n++) assert.equal((await token(in48(n), basic('bob', `wrong-${n}`))).status, 401, in48(n));
    const spread = await token(in48(25), basic('bob', 'wrong-25'));
    assert.equal(spread.status, 429, 'a fresh /64 of the same /48');
    assert.ok(Number(spread.retryAfter) > 0);
    assert.equal((await token(in48(0xffff), basic('bob', 'bob-password'))).status, 429, 'even the right password waits');
    assert.equal((await token('2001:db8:49::7', basic('bob', 'bob-password'))).status, 200, 'another /48 is not limited');
  });

  test('an unknown user costs the time of a wrong password', async () => {
    const time = async (user: string): Promise<number> => {
      const started = performance.now();
      assert.equal((await token(client(), basic(user, 'not-the-password'))).status, 401);
      return performance.now() - started;
    };
    const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? 0;
    const unknown: number[] = [];
    const wrong: number[] = [];
    for (let i = 0; i < 5; i++) {
      unknown.push(await time(`nobody-${i}`));
      wrong.push(await time('alice'));
    }
    assert.ok(median(unknown) > median(wrong) * 0.5, `unknown user ${median(unknown).toFixed(1)} ms, wrong password ${median(wrong).toFixed(1)} ms`);
  });

  test("a removed user's token stops working at once", async () => {
    const from = client();
    const t = await token(from, basic('bob', 'bob-password'));
    assert.equal(t.status, 200);
    assert.equal(await pull(from, t.token ?? ''), 200);
    assert.equal((await admin.call('DELETE', '/api/users/bob')).status, 204);
    assert.equal(await pull(client(), t.token ?? ''), 401);
  });
});
