// Stored upstream secrets are write-only (docs/security.md, "Operator and admin"): the admin never shows them, and a
// test or an edit that would send a stored password somewhere new (another origin, a new mirror, another proxy, a
// relaxed TLS check) needs the password given again. A second fake registry plays the place the password must not
// reach, and records every Authorization header it is sent.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { AdminClient } from '../support/admin-client.js';
import { FakeUpstream } from '../support/fake/fake-upstream.js';
import { startMirror, type TestMirror } from '../support/mirror-app.js';

const password = 'admin-password-for-tests';
const secret = 'upstream-secret-never-shown';
const basic = Buffer.from(`robot:${secret}`).toString('base64');

describe('stored upstream secrets', () => {
  let registry: FakeUpstream;
  let elsewhere: FakeUpstream;
  let mirror: TestMirror;
  let admin: AdminClient;
  const saved = () => ({ name: 'private', registry: 'private.example', url: registry.url, auth: { username: 'robot' } });

  before(async () => {
    registry = await new FakeUpstream({ auth: true, users: { robot: secret } }).start();
    elsewhere = await new FakeUpstream({ auth: true, users: { robot: secret } }).start();
    mirror = await startMirror({ listen: { admin: '127.0.0.1:0' }, upstreams: [] }, { adminPassword: password });
    admin = new AdminClient(mirror.adminUrl ?? '');
    assert.equal((await admin.login(password)).status, 200);
    const created = await admin.call('POST', '/api/upstreams', { ...saved(), auth: { username: 'robot', password: secret } });
    assert.equal(created.status, 201, created.text);
  });

  after(async () => {
    await mirror?.close();
    await registry?.stop();
    await elsewhere?.stop();
  });

  const leaked = () => elsewhere.requests.filter((r) => String(r.headers.authorization ?? '').includes(basic)).length;

  test('testing unsaved settings for the same origin uses the stored password', async () => {
    const res = await admin.call<{ ok: boolean; steps: Array<{ step: string; ok: boolean; detail: string }> }>('POST', '/api/upstreams/test', { upstream: saved() });
    assert.equal(res.status, 200, res.text);
    assert.equal(res.body.ok, true, res.text);
    assert.match(res.body.steps.find((s) => s.step === 'token')?.detail ?? '', /signed in as robot/);
  });

  const elsewhereEdits = (): Array<[string, Record<string, unknown>]> => [
    ['another origin', { ...saved(), url: elsewhere.url }],
    ['another scheme', { ...saved(), url: registry.url.replace('http:', 'https:') }],
    ['a new mirror', { ...saved(), mirrors: [elsewhere.url] }],
    ['a proxy', { ...saved(), proxy: elsewhere.url }],
    ['TLS verification off', { ...saved(), insecureSkipVerify: true }],
    ['another CA bundle', { ...saved(), caPem: '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n' }],
  ];

  test('testing settings that would send the stored password elsewhere is refused until the password is given again', async () => {
    for (const [what, upstream] of elsewhereEdits()) {
      const res = await admin.call<{ error: string; fields?: Array<{ path: string }> }>('POST', '/api/upstreams/test', { upstream });
      assert.equal(res.status, 400, `${what}: ${res.text}`);
      assert.equal(res.body.error, 'VALIDATION', what);
      assert.deepEqual(res.body.fields?.map((f) => f.path), ['upstream.auth.password'], what);
    }
    assert.equal(leaked(), 0, 'the stored password reached another registry');
    const given = await admin.call<{ ok: boolean }>('POST', '/api/upstreams/test', { upstream: { ...saved(), url: elsewhere.url, auth: { username: 'robot', password: secret } } });
    assert.equal(given.status, 200, given.text);
    assert.equal(given.body.ok, true, given.text);
  });

  test('saving settings that would send the stored password elsewhere is refused until the password is given again', async () => {
    elsewhere.reset();
    for (const [what, upstream] of elsewhereEdits()) {
      const res = await admin.call<{ error: string; fields?: Array<{ path: string }> }>('PUT', '/api/upstreams/private', upstream);
      assert.equal(res.status, 400, `${what}: ${res.text}`);
      assert.deepEqual(res.body.fields?.map((f) => f.path), ['auth.password'], what);
    }
    const list = await admin.call<{ upstreams: Array<{ name: string; url: string }> }>('GET', '/api/upstreams');
    assert.equal(list.body.upstreams.find((u) => u.name === 'private')?.url, registry.url);
    const sameOrigin = await admin.call('PUT', '/api/upstreams/private', { ...saved(), tagTtl: '10m' });
    assert.equal(sameOrigin.status, 200, sameOrigin.text);
    const saved2 = await admin.call<{ ok: boolean }>('POST', '/api/upstreams/private/test', {});
    assert.equal(saved2.body.ok, true, saved2.text);
    assert.equal(leaked(), 0);
  });

  test('user-info in an upstream URL is never shown in the list', async () => {
    const res = await admin.call('POST', '/api/upstreams', { name: 'userinfo', registry: 'userinfo.example', url: registry.url.replace('http://', 'http://robot:hunter2@'), mirrors: [registry.url.replace('http://', 'http://m:mirrorpw@')] });
    assert.equal(res.status, 201, res.text);
    assert.ok(!res.text.includes('hunter2') && !res.text.includes('mirrorpw'), res.text);
    const list = await admin.call('GET', '/api/upstreams');
    assert.ok(!list.text.includes('hunter2') && !list.text.includes('mirrorpw') && !list.text.includes('robot:'), list.text);
  });

  test('user-info in upstream, mirror and proxy URLs never reaches the audit log', async () => {
    const res = await admin.call('POST', '/api/upstreams', {
      name: 'userinfo-audit',
      registry: 'userinfo-audit.example',
      url: registry.url.replace('http://', 'http://robot:auditpw-url@'),
      mirrors: [registry.url.replace('http://', 'http://m:auditpw-mirror@')],
      proxy: 'http://p:auditpw-proxy@127.0.0.1:9',
    });
    assert.equal(res.status, 201, res.text);
    const edited = await admin.call('PUT', '/api/upstreams/userinfo-audit', {
      name: 'userinfo-audit',
      registry: 'userinfo-audit.example',
      url: registry.url.replace('http://', 'http://robot:auditpw-edit@'),
    });
    assert.ok(edited.status < 500, edited.text);
    const audit = await admin.call('GET', '/api/audit');
    assert.equal(audit.status, 200, audit.text);
    assert.match(audit.text, /userinfo-audit/);
    for (const secretPart of ['auditpw-url', 'auditpw-mirror', 'auditpw-proxy', 'auditpw-edit']) {
      assert.ok(!audit.text.includes(secretPart), `${secretPart} in the audit log: ${audit.text}`);
    }
  });
});
