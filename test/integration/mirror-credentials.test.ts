// The mirror's own credentials (access.login: its users' Basic credentials, its tokens) stay on the mirror, even
// on a host name that also serves a passthrough upstream, where clients send them along with every request
// (docs/security.md, "Mirror and upstream").
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, beforeEach, describe, test } from 'node:test';
import { request } from 'undici';
import { hashPassword } from '../../src/access/password.js';
import { HostileUpstream, type HostileRequest } from '../support/fake/hostile-upstream.js';
import { get } from '../support/fake/mirror-over-fake.js';
import { startMirror, type TestMirror } from '../support/mirror-app.js';

const basic = (user: string, password: string): string => `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;
const alice = { username: 'alice', password: 'mirror-password-1' };
const bob = { username: 'bob', password: 'upstream-password-1' };

/** Every header value and query value the upstream saw, to search for a secret in. */
const everything = (requests: HostileRequest[]): string =>
  requests.map((r) => `${JSON.stringify(r.headers)} ${r.query.toString()}`).join('\n');

describe("the mirror's own credentials and a passthrough upstream on the same host name", () => {
  let up: HostileUpstream;
  let mirror: TestMirror;
  let mirrorToken: string;

  before(async () => {
    up = await new HostileUpstream({ users: { [bob.username]: bob.password } }).start();
    up.addImage('team/app', '1', [randomBytes(512)]);
    mirror = await startMirror({
      access: { login: 'required', users: [{ username: alice.username, passwordHash: await hashPassword(alice.password) }] },
      upstreams: [
        { name: 'hub', registry: 'docker.io', url: up.url, default: true },
        { name: 'pass', registry: 'pass.example.test', hosts: ['pass.mirror.test'], url: up.url, auth: { mode: 'passthrough' }, access: { login: 'off' } },
      ],
    });
    const issued = await get(mirror.url, '/auth/token?service=pullgate', { headers: { authorization: basic(alice.username, alice.password) } });
    assert.equal(issued.status, 200);
    mirrorToken = (JSON.parse(issued.body.toString()) as { token: string }).token;
  });
  after(async () => {
    await mirror?.close();
    await up?.stop();
  });
  beforeEach(() => up.reset());

  for (const [how, path, host] of [
    ['its mapped host', '/v2/team/app/manifests/1', 'pass.mirror.test'],
    ['ns on the mirror root', '/v2/team/app/manifests/1?ns=pass.example.test', undefined],
    ['a path prefix on the mirror root', '/v2/pass.example.test/team/app/manifests/1', undefined],
  ] as const) {
    test(`a mirror token sent to the passthrough upstream through ${how} never reaches it`, async () => {
      const r = await get(mirror.url, path, { headers: { authorization: `Bearer ${mirrorToken}`, ...(host ? { host } : {}) } });
      assert.equal(r.status, 401, 'the client is sent to the upstream realm, through the mirror');
      assert.ok(up.count() > 0, 'the upstream was asked');
      assert.ok(!everything(up.requests).includes(mirrorToken));
    });
  }

  test("a mirror user's Basic credentials on a passthrough request never reach the upstream", async () => {
    await get(mirror.url, '/v2/team/app/manifests/1', { headers: { authorization: basic(alice.username, alice.password), host: 'pass.mirror.test' } });
    assert.ok(up.count() > 0);
    assert.deepEqual(up.requests.filter((q) => q.headers.authorization !== undefined), []);
  });

  for (const password of [alice.password, 'a-mistyped-password']) {
    test(`a mirror user's Basic credentials (${password === alice.password ? 'right' : 'wrong'} password) at the token relay are not relayed, nor the account`, async () => {
      const r = await get(mirror.url, `/token/pass?service=hostile&scope=repository:team/app:pull&account=${alice.username}`, {
        headers: { authorization: basic(alice.username, password), host: 'pass.mirror.test' },
      });
      assert.equal(r.status, 200, 'relayed as an anonymous request');
      const relayed = up.requests.filter((q) => q.path === '/token');
      assert.equal(relayed.length, 1);
      assert.equal(relayed[0]?.headers.authorization, undefined);
      assert.equal(relayed[0]?.query.get('account'), null);
      assert.ok(!everything(up.requests).includes(password));
    });
  }

  test("an OAuth2 password grant naming a mirror user is refused on the mirror; the upstream hears nothing", async () => {
    const form = new URLSearchParams({ grant_type: 'password', service: 'hostile', scope: 'repository:team/app:pull', username: alice.username, password: alice.password, client_id: 'containerd' });
    const res = await request(`${mirror.url}/token/pass`, {
      method: 'POST',
      headers: { host: 'pass.mirror.test', 'content-type': 'application/x-www-form-urlencoded' },
      body: form.toString(),
    });
    await res.body.dump();
    assert.equal(res.statusCode, 401);
    assert.equal(up.count(), 0);
  });

  test("the client's own upstream credentials still pass through to the upstream's realm", async () => {
    const r = await get(mirror.url, '/token/pass?service=hostile&scope=repository:team/app:pull', {
      headers: { authorization: basic(bob.username, bob.password), host: 'pass.mirror.test' },
    });
    assert.equal(r.status, 200);
    const token = (JSON.parse(r.body.toString()) as { token: string }).token;
    assert.deepEqual(up.issued.get(token), { host: 'registry', withCredentials: true });
  });
});
