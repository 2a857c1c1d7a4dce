// Signature verdicts where the operator looks (docs/signatures.md): the cache explorer's image list and image page
// carry each image's verdict and signer, `pullgate cache ls` prints them, and the upstream's view shows its signature
// policy read-only, keys by fingerprint. Images are signed in cosign's tag scheme with node:crypto, served by an
// in-process fake registry; the policy is in audit mode so that unsigned images are cached too.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { loadPublicKey } from '../../src/signature/requirement.js';
import { fullManifestAccept } from '../../src/registry/media-types.js';
import { AdminClient } from '../support/admin-client.js';
import { FakeUpstream } from '../support/fake/fake-upstream.js';
import { get } from '../support/fake/mirror-over-fake.js';
import { startMirror, type TestMirror } from '../support/mirror-app.js';
import { cosignSignatureManifest, cosignSignatureTag, keyedCosignLayer, testKey, type TestKey } from '../support/sigstore-fixtures.js';

const password = 'admin-password-for-tests';
const main = fileURLToPath(new URL('../../src/main.ts', import.meta.url));

interface Signature {
  result: 'pass' | 'fail';
  mode: string;
  requirement: string;
  signers: string[];
  reason?: string;
}
interface Image {
  digest: string;
  tags: string[];
  signature?: Signature;
}

function pullgate(args: string[], env: Record<string, string>): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, ['--import', 'tsx', main, ...args], { env: { ...process.env, ...env } }, (err, stdout, stderr) => {
      resolve({ code: err ? Number((err as { code?: unknown }).code ?? 1) : 0, stdout, stderr });
    });
  });
}

describe('signature verdicts in the admin and the CLI', () => {
  let hub: FakeUpstream;
  let mirror: TestMirror;
  let admin: AdminClient;
  let trusted: TestKey;
  let signedDigest: string;

  before(async () => {
    hub = await new FakeUpstream().start();
    trusted = testKey('p256');
    const signed = hub.addImage('team/signed', '1', [randomBytes(2000)]);
    signedDigest = signed.digest;
    const sig = cosignSignatureManifest([keyedCosignLayer(trusted, signed.digest)]);
    for (const bytes of sig.blobs.values()) hub.addBlob(bytes);
    hub.putManifest('team/signed', cosignSignatureTag(signed.digest), 'application/vnd.oci.image.manifest.v1+json', sig.manifest);
    hub.addImage('team/unsigned', '1', [randomBytes(2000)]);
    hub.addImage('library/alpine', '3.20', [randomBytes(2000)]);
    mirror = await startMirror(
      {
        listen: { admin: '127.0.0.1:0' },
        upstreams: [
          {
            name: 'hub',
            registry: 'docker.io',
            url: hub.url,
            default: true,
            signatures: { require: [{ repositories: ['team/*'], keys: [trusted.publicPem], mode: 'audit' }] },
          },
        ],
      },
      { adminPassword: password },
    );
    admin = new AdminClient(mirror.adminUrl ?? '');
    assert.equal((await admin.login(password)).status, 200);
    for (const p of ['/v2/team/signed/manifests/1', '/v2/team/unsigned/manifests/1', '/v2/library/alpine/manifests/3.20']) {
      assert.equal((await get(mirror.url, p, { headers: { accept: fullManifestAccept } })).status, 200, p);
    }
  });

  after(async () => {
    await mirror?.close();
    await hub?.stop();
  });

  const images = async (repository: string) =>
    (await admin.call<{ images: Image[] }>('GET', `/api/cache/images?upstream=hub&repository=${encodeURIComponent(repository)}`)).body.images;

  test('the image list carries each image\'s verdict and signer; an image under no policy has none', async () => {
    const [signed] = await images('team/signed');
    assert.equal(signed?.signature?.result, 'pass');
    assert.equal(signed?.signature?.mode, 'audit');
    assert.deepEqual(signed?.signature?.signers, [`key ${loadPublicKey(trusted.publicPem).id.slice(0, 19)}`]);
    const [unsigned] = await images('team/unsigned');
    assert.equal(unsigned?.signature?.result, 'fail');
    assert.match(unsigned?.signature?.reason ?? '', /no signature found/);
    assert.deepEqual(unsigned?.signature?.signers, []);
    const [plain] = await images('library/alpine');
    assert.ok(plain);
    assert.equal(plain.signature, undefined);
  });

  test('the image page carries the verdict too', async () => {
    const res = await admin.call<Image>('GET', `/api/cache/image?upstream=hub&repository=team/signed&digest=${signedDigest}`);
    assert.equal(res.status, 200, res.text);
    assert.equal(res.body.signature?.result, 'pass');
  });

  test("the upstream's view shows its signature policy read-only, keys by fingerprint, never PEM", async () => {
    const res = await admin.call<{ upstreams: Array<{ name: string; signatures?: { customTrustedRoot: boolean; require: Array<{ repositories: string[]; mode: string; threshold: number; keys: string[] }> } }> }>('GET', '/api/upstreams');
    const hubView = res.body.upstreams.find((u) => u.name === 'hub');
    assert.deepEqual(hubView?.signatures, {
      customTrustedRoot: false,
      require: [{ repositories: ['team/*'], mode: 'audit', threshold: 1, keys: [loadPublicKey(trusted.publicPem).id], identities: [], identityRules: [] }],
    });
    assert.ok(!res.text.includes('BEGIN PUBLIC KEY'));
  });

  test('`pullgate cache ls UPSTREAM REPOSITORY` prints the verdict and signer', async () => {
    const made = await pullgate(['token', 'create', 'verdicts', '--data-dir', mirror.dataDir], {});
    assert.equal(made.code, 0, made.stderr);
    const env = { PULLGATE_ADMIN_URL: mirror.adminUrl ?? '', PULLGATE_ADMIN_TOKEN: made.stdout.trim() };
    const signed = await pullgate(['cache', 'ls', 'hub', 'team/signed'], env);
    assert.equal(signed.code, 0, signed.stderr);
    assert.match(signed.stdout, /^TAGS\s+SIZE\s+PLATFORMS\s+LAST PULL\s+PULLS\s+PINNED\s+SIGNATURE\s+DIGEST$/m);
    assert.match(signed.stdout, new RegExp(`pass \\(audit\\): key ${loadPublicKey(trusted.publicPem).id.slice(0, 19)}`));
    const unsigned = await pullgate(['cache', 'ls', 'hub', 'team/unsigned'], env);
    assert.match(unsigned.stdout, /fail \(audit\): no signature found/);
  });
});
