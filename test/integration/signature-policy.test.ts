// A signature policy enforced at the mirror (docs/signatures.md), against a real docker-registry holding signed and
// unsigned images: keyed signatures in cosign's tag scheme, a keyless Sigstore bundle attached to an index through
// the referrers tag schema (docker-registry 2.8 has no referrers API), and unsigned images.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { request } from 'undici';
import { pushFixtures, type Fixtures } from '../support/fixture-images.js';
import { assertInstalled } from '../support/installed-tools.js';
import { startMirror, type TestMirror } from '../support/mirror-app.js';
import { startRealRegistry, type RealRegistry } from '../support/real-registry.js';
import { registryPusher } from '../support/registry-push.js';
import { keylessSubject as subject, signaturesConfig, signFixtures } from '../support/signed-fixtures.js';
import { cosignSignatureManifest, cosignSignatureTag, keyedCosignLayer, mockSigstore, testKey, type TestKey } from '../support/sigstore-fixtures.js';

const accept = [
  'application/vnd.oci.image.index.v1+json',
  'application/vnd.oci.image.manifest.v1+json',
  'application/vnd.docker.distribution.manifest.list.v2+json',
  'application/vnd.docker.distribution.manifest.v2+json',
].join(', ');
const sha256 = (b: Buffer): string => `sha256:${createHash('sha256').update(b).digest('hex')}`;

describe('signature policy at the mirror, real docker-registry', { timeout: 300_000 }, () => {
  let reg: RealRegistry;
  let fixtures: Fixtures;
  let mirror: TestMirror;
  let work: string;
  let trusted: TestKey;
  // The mirror's clock runs this far ahead of the real one (tests move it on).
  let skewMs = 0;

  before(async () => {
    await assertInstalled('docker-registry', 'skopeo', 'openssl');
    work = await mkdtemp(join(tmpdir(), 'pullgate-signatures-'));
    reg = await startRealRegistry();
    fixtures = await pushFixtures(reg);
    trusted = testKey('p256');
    const sigstore = await mockSigstore();
    await signFixtures(reg, fixtures, { trusted, stranger: testKey('p256'), sigstore });
    const rootFile = join(work, 'trusted_root.json');
    await writeFile(rootFile, JSON.stringify(sigstore.trustedRoot));
    const keyFile = join(work, 'trusted.pub');
    await writeFile(keyFile, trusted.publicPem);
    const signatures = (mode: 'enforce' | 'audit') => signaturesConfig({ keyFile, trustedPem: trusted.publicPem, rootFile, issuer: sigstore.issuer, mode });
    mirror = await startMirror(
      {
        upstreams: [
          { name: 'hub', registry: 'docker.io', url: reg.url, ca: reg.caFile, default: true, signatures: signatures('enforce') },
          { name: 'audit', registry: 'audit.test', url: reg.url, ca: reg.caFile, signatures: signatures('audit') },
        ],
      },
      { clock: () => Date.now() + skewMs },
    );
  });

  after(async () => {
    await mirror?.close();
    await reg?.stop();
    if (work) await rm(work, { recursive: true, force: true });
  });

  const get = async (path: string, method: 'GET' | 'HEAD' = 'GET') => {
    const res = await request(`${mirror.url}${path}`, { method, headers: { accept } });
    const body = Buffer.from(await res.body.arrayBuffer());
    return { status: res.statusCode, headers: res.headers, body };
  };
  const errorOf = (body: Buffer) => (JSON.parse(body.toString()) as { errors: { code: string; message: string }[] }).errors[0];
  const accessLines = () => mirror.logs.map((l) => JSON.parse(l) as Record<string, unknown>).filter((l) => l['msg'] === 'request');

  test('an image signed by the configured key pulls whole: manifest, config and layers, byte-exact', async () => {
    const m = await get('/v2/team/app/manifests/1.0');
    assert.equal(m.status, 200, m.body.toString());
    assert.equal(sha256(m.body), fixtures.app.digest);
    const doc = JSON.parse(m.body.toString()) as { config: { digest: string }; layers: { digest: string }[] };
    for (const d of [doc.config.digest, ...doc.layers.map((l) => l.digest)]) {
      const b = await get(`/v2/team/app/blobs/${d}`);
      assert.equal(b.status, 200);
      assert.equal(sha256(b.body), d);
    }
    const line = accessLines().find((l) => l['repository'] === 'team/app' && l['reference'] === '1.0');
    assert.match(String(line?.['signature']), /^pass key sha256:/);
  });

  test('an unsigned image is refused with 403 DENIED naming the policy and "no signature found", GET and HEAD, and its blobs too', async () => {
    const m = await get('/v2/library/alpine/manifests/3.20');
    assert.equal(m.status, 403);
    const e = errorOf(m.body);
    assert.equal(e?.code, 'DENIED');
    assert.match(e?.message ?? '', /signature policy of upstream hub \(signatures\.require\[1\]\): no signature found/);
    assert.equal((await get('/v2/library/alpine/manifests/3.20', 'HEAD')).status, 403);
    const layer = fixtures.alpine.layers[0]?.digest ?? '';
    const b = await get(`/v2/library/alpine/blobs/${layer}`);
    assert.equal(b.status, 403);
    assert.equal(errorOf(b.body)?.code, 'DENIED');
  });

  test('an image signed by another key is refused with "signed by another key"', async () => {
    const m = await get('/v2/library/multi/manifests/v2s2');
    assert.equal(m.status, 403);
    assert.match(errorOf(m.body)?.message ?? '', /signed by another key/);
  });

  test('under audit the unsigned image pulls, and the log and metrics say it failed', async () => {
    const m = await get('/v2/audit.test/library/alpine/manifests/3.20');
    assert.equal(m.status, 200);
    assert.equal(sha256(m.body), fixtures.alpine.digest);
    const line = accessLines().find((l) => l['upstream'] === 'audit' && l['reference'] === '3.20');
    assert.match(String(line?.['signature']), /^audit_fail: no signature found/);
    const metrics = await mirror.app.metrics.exposition();
    assert.match(metrics.body, /pullgate_signature_verdicts_total\{upstream="audit",result="audit_fail"\} 1/);
    assert.match(metrics.body, /pullgate_signature_verdicts_total\{upstream="hub",result="fail"\} [1-9]/);
  });

  test('an index signed keyless at the index: a platform manifest alone is refused, after the index every platform pulls', async () => {
    const [amd64] = Object.values(fixtures.multi.children);
    assert.ok(amd64);
    const alone = await get(`/v2/library/multi/manifests/${amd64.digest}`);
    assert.equal(alone.status, 403, 'a platform manifest by digest without its signed index');
    const index = await get('/v2/library/multi/manifests/latest');
    assert.equal(index.status, 200, index.body.toString());
    assert.equal(sha256(index.body), fixtures.multi.digest);
    const line = accessLines().find((l) => l['repository'] === 'library/multi' && l['reference'] === 'latest');
    assert.ok(String(line?.['signature']).includes(subject));
    for (const child of Object.values(fixtures.multi.children)) {
      const c = await get(`/v2/library/multi/manifests/${child.digest}`);
      assert.equal(c.status, 200);
      for (const layer of child.layers) {
        const b = await get(`/v2/library/multi/blobs/${layer.digest}`);
        assert.equal(b.status, 200);
        assert.equal(sha256(b.body), layer.digest);
      }
    }
  });

  test('an image signed after a refused pull is judged again once the refusal is a minute old, and then pulls', async () => {
    const pusher = await registryPusher(reg);
    let digest: string;
    const pushed = { config: Buffer.from('{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}'), layer: Buffer.from('signed later') };
    try {
      for (const b of Object.values(pushed)) await pusher.blob('team/late', b);
      const manifest = Buffer.from(
        JSON.stringify({
          schemaVersion: 2,
          mediaType: 'application/vnd.oci.image.manifest.v1+json',
          config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: sha256(pushed.config), size: pushed.config.length },
          layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar', digest: sha256(pushed.layer), size: pushed.layer.length }],
        }),
      );
      digest = await pusher.manifest('team/late', '1', manifest, 'application/vnd.oci.image.manifest.v1+json');
      // Pulled before it was signed (a node racing the release job): refused.
      const early = await get('/v2/team/late/manifests/1');
      assert.equal(early.status, 403, early.body.toString());
      assert.match(errorOf(early.body)?.message ?? '', /no signature found/);
      // Then signed by the trusted key, as cosign does.
      const sig = cosignSignatureManifest([keyedCosignLayer(trusted, digest)]);
      for (const b of sig.blobs.values()) await pusher.blob('team/late', b);
      await pusher.manifest('team/late', cosignSignatureTag(digest), sig.manifest, 'application/vnd.oci.image.manifest.v1+json');
    } finally {
      await pusher.close();
    }
    skewMs += 61_000;
    const later = await get('/v2/team/late/manifests/1');
    assert.equal(later.status, 200, later.body.toString());
    assert.equal(sha256(later.body), digest);
    assert.equal((await get(`/v2/team/late/blobs/${sha256(pushed.layer)}`)).status, 200);
  });

  test('concurrent pulls of an image not yet judged look for its signatures once', async () => {
    const pusher = await registryPusher(reg);
    let digest: string;
    let payloadDigest: string;
    try {
      const config = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [] }, created: 'busy' }));
      const configDigest = await pusher.blob('team/busy', config);
      const manifest = Buffer.from(
        JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.manifest.v1+json', config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: configDigest, size: config.length }, layers: [] }),
      );
      digest = await pusher.manifest('team/busy', '1.0', manifest, 'application/vnd.oci.image.manifest.v1+json');
      const layer = keyedCosignLayer(trusted, digest);
      payloadDigest = sha256(layer.payload);
      const signature = cosignSignatureManifest([layer]);
      for (const bytes of signature.blobs.values()) await pusher.blob('team/busy', bytes);
      await pusher.manifest('team/busy', cosignSignatureTag(digest), signature.manifest, 'application/vnd.oci.image.manifest.v1+json');
    } finally {
      await pusher.close();
    }
    reg.cdn.reset();
    // A fleet of nodes pulls a new image at once: one look for its signatures, not one per node.
    const pulls = await Promise.all(Array.from({ length: 6 }, () => get(`/v2/team/busy/manifests/${digest}`)));
    assert.deepEqual(pulls.map((p) => p.status), [200, 200, 200, 200, 200, 200]);
    const payloadFetches = reg.cdn.requests.filter((r) => r.method === 'GET' && r.path.includes(payloadDigest.slice('sha256:'.length)));
    assert.equal(payloadFetches.length, 1);
  });

  test('with the upstream stopped, cached verdicts still hold and an unknown one fails closed', async () => {
    await reg.stop();
    const signed = await get(`/v2/team/app/manifests/${fixtures.app.digest}`);
    assert.equal(signed.status, 200);
    const refused = await get(`/v2/library/alpine/manifests/${fixtures.alpine.digest}`);
    assert.equal(refused.status, 403);
  });
});
