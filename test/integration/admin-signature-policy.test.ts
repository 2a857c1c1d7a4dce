// Signature policies edited in the admin (docs/signatures.md): an upstream added through the API carries a policy
// checked with the config file's schema; it is enforced from the next pull; an edit is a new policy version, so
// images are judged again under it; keys come back by fingerprint only and an edit keeps a key by naming its
// fingerprint; every change is in the audit log. The upstream is an in-process fake registry holding an image
// signed in cosign's tag scheme.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { loadPublicKey } from '../../src/signature/requirement.js';
import { AdminClient } from '../support/admin-client.js';
import { FakeUpstream } from '../support/fake/fake-upstream.js';
import { get } from '../support/fake/mirror-over-fake.js';
import { startMirror, type TestMirror } from '../support/mirror-app.js';
import { cosignSignatureManifest, cosignSignatureTag, keyedCosignLayer, testKey, type TestKey } from '../support/sigstore-fixtures.js';

const password = 'admin-password-for-tests';
const accept = { accept: 'application/vnd.oci.image.index.v1+json, application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.list.v2+json, application/vnd.docker.distribution.manifest.v2+json' };

interface PolicyView {
  customTrustedRoot: boolean;
  require: Array<{ repositories: string[]; mode: string; threshold: number; keys: string[]; identities: Array<{ issuer: string; subject: string }>; identityRules: unknown[] }>;
}

describe('signature policies edited in the admin', () => {
  let hub: FakeUpstream;
  let mirror: TestMirror;
  let admin: AdminClient;
  let trusted: TestKey;
  let stranger: TestKey;
  let signedDigest: string;
  const path = '/v2/signed.test/team/app/manifests/1';
  const upstream = (signatures: unknown) => ({ name: 'signed', registry: 'signed.test', url: hub.url, signatures });
  const pull = () => get(mirror.url, path, { headers: accept });
  const message = (body: Buffer) => (JSON.parse(body.toString()) as { errors: Array<{ message: string }> }).errors[0]?.message ?? '';
  const policyKeys = () =>
    (mirror.app.cache.db.prepare('SELECT policy FROM signature_verdicts WHERE digest = ? ORDER BY decided_at').all(signedDigest) as Array<{ policy: string }>).map((r) => r.policy);

  before(async () => {
    hub = await new FakeUpstream().start();
    trusted = testKey('p256');
    stranger = testKey('ed25519');
    const signed = hub.addImage('team/app', '1', [randomBytes(2000)]);
    signedDigest = signed.digest;
    const sig = cosignSignatureManifest([keyedCosignLayer(trusted, signed.digest)]);
    for (const bytes of sig.blobs.values()) hub.addBlob(bytes);
    hub.putManifest('team/app', cosignSignatureTag(signed.digest), 'application/vnd.oci.image.manifest.v1+json', sig.manifest);
    mirror = await startMirror({ listen: { admin: '127.0.0.1:0' }, upstreams: [] }, { adminPassword: password });
    admin = new AdminClient(mirror.adminUrl ?? '');
    assert.equal((await admin.login(password)).status, 200);
  });

  after(async () => {
    await mirror?.close();
    await hub?.stop();
  });

  test('an upstream added with a policy enforces it from the next pull; its view lists keys by fingerprint, never PEM', async () => {
    const created = await admin.call<{ signatures?: PolicyView }>('POST', '/api/upstreams', upstream({ require: [{ repositories: ['team/*'], keys: [trusted.publicPem] }] }));
    assert.equal(created.status, 201, created.text);
    assert.deepEqual(created.body.signatures, {
      customTrustedRoot: false,
      require: [{ repositories: ['team/*'], mode: 'enforce', threshold: 1, keys: [loadPublicKey(trusted.publicPem).id], identities: [], identityRules: [] }],
    });
    assert.ok(!created.text.includes('BEGIN PUBLIC KEY'));
    const r = await pull();
    assert.equal(r.status, 200, r.body.toString());
    assert.equal(policyKeys().length, 1);
  });

  test('an edit to another key is a new policy version: the image is judged again and refused', async () => {
    const before = policyKeys();
    const res = await admin.call('PUT', '/api/upstreams/signed', upstream({ require: [{ repositories: ['team/*'], keys: [stranger.publicPem] }] }));
    assert.equal(res.status, 200, res.text);
    const r = await pull();
    assert.equal(r.status, 403);
    assert.match(message(r.body), /signature policy of upstream signed .*signed by another key/);
    const after = policyKeys();
    assert.equal(after.length, 2, 'a verdict under the new version, next to the old');
    assert.ok(!before.includes(after[1] ?? ''));
  });

  test('an edit keeps a key by its fingerprint and changes the mode: under audit the image is served, the failure logged', async () => {
    const fingerprint = loadPublicKey(stranger.publicPem).id;
    const identity = { issuer: 'https://token.actions.githubusercontent.com', subjectRegExp: 'https://github\\.com/example/.+' };
    const res = await admin.call<{ signatures?: PolicyView }>('PUT', '/api/upstreams/signed', upstream({ require: [{ repositories: ['team/*'], keys: [fingerprint], identities: [identity], mode: 'audit' }] }));
    assert.equal(res.status, 200, res.text);
    assert.deepEqual(res.body.signatures?.require[0]?.keys, [fingerprint], 'the stored key, named by its fingerprint');
    assert.deepEqual(res.body.signatures?.require[0]?.identityRules, [identity]);
    const r = await pull();
    assert.equal(r.status, 200, r.body.toString());
    const line = mirror.logs.map((l) => JSON.parse(l) as Record<string, unknown>).filter((l) => l['msg'] === 'request' && l['upstream'] === 'signed').pop();
    assert.match(String(line?.['signature']), /^audit_fail: /);
  });

  test('removing the policy serves the image with no verdict; every change is in the audit log', async () => {
    const res = await admin.call('PUT', '/api/upstreams/signed', { name: 'signed', registry: 'signed.test', url: hub.url });
    assert.equal(res.status, 200, res.text);
    const verdictsBefore = policyKeys().length;
    assert.equal((await pull()).status, 200);
    assert.equal(policyKeys().length, verdictsBefore, 'no policy, no judgment');
    const audit = await admin.call<{ entries: Array<{ action: string; target: string; detail: string | null; outcome: string }> }>('GET', '/api/audit');
    const changes = audit.body.entries.filter((e) => e.target.includes('signed') && /upstreams/.test(e.action));
    assert.equal(changes.length, 4, audit.text);
    assert.ok(changes.some((e) => e.detail?.includes('"mode":"audit"')), 'the policy change, as asked');
    assert.ok(changes.every((e) => !(e.detail ?? '').includes('BEGIN PUBLIC KEY')));
  });
});
