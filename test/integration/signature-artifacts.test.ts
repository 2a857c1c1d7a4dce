// Signature artifacts under `enforce` (docs/signatures.md, "Signature artifacts"): cosign's `.sig` manifests, Sigstore
// bundle referrers and the referrers tag schema's index are served without a signature of their own, so that a
// verifier (cosign verify) works through the mirror; and nothing else gets through that way: a runnable image under
// a `.sig` tag, an artifact naming an image layer, a JSON/tar polyglot, a referrer with image layers, an index under
// a `.sig` tag, and an unsigned image listed in a referrers index are all refused, with their blobs.
// A real docker-registry (2.8, no referrers API) holds the images, signed the ways cosign does.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { after, before, describe, test } from 'node:test';
import { request } from 'undici';
import { findSignatures } from '../../src/signature/signature-discovery.js';
import { evaluate } from '../../src/signature/evaluate.js';
import { compileRequirement } from '../../src/signature/requirement.js';
import type { SignatureSource } from '../../src/signature/signature-source.js';
import { loadTrustedRoot } from '../../src/signature/trusted-root.js';
import { pushFixtures, type Fixtures } from '../support/fixture-images.js';
import { assertInstalled } from '../support/installed-tools.js';
import { startMirror, type TestMirror } from '../support/mirror-app.js';
import { startRealRegistry, type RealRegistry } from '../support/real-registry.js';
import { registryPusher, type RegistryPusher } from '../support/registry-push.js';
import { keylessSubject, signaturesConfig, signFixtures } from '../support/signed-fixtures.js';
import { cosignSignatureTag, mockSigstore, testKey, type MockSigstore, type TestKey } from '../support/sigstore-fixtures.js';
import { jsonTarPolyglot } from '../support/tar-polyglot.js';

const accept = [
  'application/vnd.oci.image.index.v1+json',
  'application/vnd.oci.image.manifest.v1+json',
  'application/vnd.docker.distribution.manifest.list.v2+json',
  'application/vnd.docker.distribution.manifest.v2+json',
].join(', ');
const execFileAsync = promisify(execFile);
const sha256 = (b: Buffer): string => `sha256:${createHash('sha256').update(b).digest('hex')}`;
const oci = 'application/vnd.oci.image.manifest.v1+json';
const simpleSigning = 'application/vnd.dev.cosign.simplesigning.v1+json';

describe('signature artifacts under enforce, real docker-registry', { timeout: 300_000 }, () => {
  let reg: RealRegistry;
  let fixtures: Fixtures;
  let mirror: TestMirror;
  let pusher: RegistryPusher;
  let work: string;
  let trusted: TestKey;
  let sigstore: MockSigstore;
  let rootFile: string;

  before(async () => {
    await assertInstalled('docker-registry', 'skopeo', 'openssl');
    work = await mkdtemp(join(tmpdir(), 'pullgate-signature-artifacts-'));
    reg = await startRealRegistry();
    fixtures = await pushFixtures(reg);
    trusted = testKey('p256');
    sigstore = await mockSigstore();
    await signFixtures(reg, fixtures, { trusted, stranger: testKey('p256'), sigstore });
    pusher = await registryPusher(reg);
    rootFile = join(work, 'trusted_root.json');
    await writeFile(rootFile, JSON.stringify(sigstore.trustedRoot));
    const keyFile = join(work, 'trusted.pub');
    await writeFile(keyFile, trusted.publicPem);
    mirror = await startMirror({
      upstreams: [
        { name: 'hub', registry: 'docker.io', url: reg.url, ca: reg.caFile, default: true, signatures: signaturesConfig({ keyFile, trustedPem: trusted.publicPem, rootFile, issuer: sigstore.issuer, mode: 'enforce' }) },
      ],
    });
  });

  after(async () => {
    await pusher?.close();
    await mirror?.close();
    await reg?.stop();
    if (work) await rm(work, { recursive: true, force: true });
  });

  const get = async (path: string, method: 'GET' | 'HEAD' = 'GET') => {
    const res = await request(`${mirror.url}${path}`, { method, headers: { accept } });
    const body = Buffer.from(await res.body.arrayBuffer());
    return { status: res.statusCode, body };
  };
  const errorCode = (body: Buffer) => (JSON.parse(body.toString()) as { errors: { code: string }[] }).errors[0]?.code;
  /** The mirror as a verifier sees it (what cosign verify reads): manifests, referrers and blobs through it. */
  const throughMirror = (repository: string): SignatureSource => ({
    async manifest(reference) {
      const r = await get(`/v2/${repository}/manifests/${reference}`);
      if (r.status === 404) return undefined;
      assert.equal(r.status, 200, `manifest ${reference}: ${r.body.toString()}`);
      return r.body;
    },
    async referrers(digest) {
      const r = await get(`/v2/${repository}/referrers/${digest}`);
      return r.status === 200 ? r.body : undefined;
    },
    async blob(digest) {
      const r = await get(`/v2/${repository}/blobs/${digest}`);
      assert.equal(r.status, 200, `blob ${digest}: ${r.body.toString()}`);
      assert.equal(sha256(r.body), digest);
      return r.body;
    },
  });
  const accessLine = (reference: string) => mirror.logs.map((l) => JSON.parse(l) as Record<string, unknown>).find((l) => l['msg'] === 'request' && l['reference'] === reference);
  /** Pushes an OCI manifest (and its blobs) under `reference`; returns its digest. */
  const push = async (repository: string, reference: string, doc: object, blobs: Buffer[] = [], mediaType = oci): Promise<string> => {
    for (const b of blobs) await pusher.blob(repository, b);
    return pusher.manifest(repository, reference, Buffer.from(JSON.stringify(doc)), mediaType);
  };
  const emptyConfig = Buffer.from('{}');
  const descriptor = (mediaType: string, bytes: Buffer) => ({ mediaType, digest: sha256(bytes), size: bytes.length });

  test("a verifier reads a keyed image's cosign signature through the mirror, and it verifies", async () => {
    const sigTag = cosignSignatureTag(fixtures.app.digest);
    const found = await findSignatures(throughMirror('team/app'), fixtures.app.digest);
    assert.equal(found.cosign.length, 1);
    const requirement = compileRequirement({ repositories: ['team/*'], keys: [trusted.publicPem] }, 'verifier');
    const verdict = evaluate(requirement, fixtures.app.digest, fixtures.app.raw, found, { root: loadTrustedRoot(undefined) }, Date.now());
    assert.equal(verdict.result, 'pass', verdict.reason);
    assert.equal(accessLine(sigTag)?.['signature'], 'artifact: signature');
  });

  test('a keyless bundle found through the referrers tag schema is read through the mirror, and it verifies', async () => {
    const found = await findSignatures(throughMirror('library/multi'), fixtures.multi.digest);
    assert.equal(found.bundles.length, 1);
    const requirement = compileRequirement({ repositories: ['library/*'], identities: [{ issuer: sigstore.issuer, subject: keylessSubject }] }, 'verifier');
    const verdict = evaluate(requirement, fixtures.multi.digest, fixtures.multi.raw, found, { root: loadTrustedRoot(rootFile) }, Date.now());
    assert.equal(verdict.result, 'pass', verdict.reason);
    assert.equal(accessLine(fixtures.multi.digest.replace(':', '-'))?.['signature'], 'artifact: referrers index');
  });

  test('a runnable unsigned image pushed under a .sig tag is refused, and so are its layers', async () => {
    const tag = cosignSignatureTag(fixtures.alpine.digest);
    await pusher.manifest('library/alpine', tag, fixtures.alpine.raw, fixtures.alpine.mediaType);
    const m = await get(`/v2/library/alpine/manifests/${tag}`);
    assert.equal(m.status, 403);
    assert.equal(errorCode(m.body), 'DENIED');
    for (const layer of fixtures.alpine.layers) assert.equal((await get(`/v2/library/alpine/blobs/${layer.digest}`)).status, 403);
  });

  test('an artifact-shaped manifest that names an image layer (typed as a signature) is refused, and the layer too', async () => {
    const layer = fixtures.alpine.layers[0];
    assert.ok(layer);
    const doc = { schemaVersion: 2, mediaType: oci, config: descriptor('application/vnd.oci.image.config.v1+json', emptyConfig), layers: [{ mediaType: simpleSigning, digest: layer.digest, size: layer.size }] };
    const tag = `sha256-${'1'.repeat(64)}.sig`;
    await push('library/alpine', tag, doc, [emptyConfig]);
    assert.equal((await get(`/v2/library/alpine/manifests/${tag}`)).status, 403);
    assert.equal((await get(`/v2/library/alpine/blobs/${layer.digest}`)).status, 403);
  });

  test('a layer that is JSON and a tar archive at once is not a signature document: its artifact is refused', async () => {
    const polyglot = jsonTarPolyglot();
    const doc = { schemaVersion: 2, mediaType: oci, config: descriptor('application/vnd.oci.image.config.v1+json', emptyConfig), layers: [descriptor(simpleSigning, polyglot)] };
    const tag = `sha256-${'2'.repeat(64)}.sig`;
    await push('library/alpine', tag, doc, [emptyConfig, polyglot]);
    assert.equal((await get(`/v2/library/alpine/manifests/${tag}`)).status, 403);
    assert.equal((await get(`/v2/library/alpine/blobs/${sha256(polyglot)}`)).status, 403);
  });

  test('an artifact whose "Layers" (read by Go clients) name a signed image\'s layers beside its "layers" is refused, with its config', async () => {
    assert.equal((await get(`/v2/team/app/manifests/${fixtures.app.digest}`)).status, 200, 'the signed image passes: its layers are admitted');
    const config = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', config: { Entrypoint: ['/bin/sh', '-c', 'echo unsigned'] } }));
    const payload = Buffer.from(JSON.stringify({ critical: {} }));
    const doc = {
      schemaVersion: 2,
      mediaType: oci,
      config: descriptor('application/vnd.oci.image.config.v1+json', config),
      layers: [descriptor(simpleSigning, payload)],
      Layers: fixtures.app.layers.map((l) => ({ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: l.digest, size: l.size })),
    };
    const tag = `sha256-${'5'.repeat(64)}.sig`;
    await push('team/app', tag, doc, [config, payload]);
    // skopeo decodes the manifest as every Go client does: it would copy the signed layers under this config.
    const copied = await execFileAsync('skopeo', ['copy', '--src-tls-verify=false', `docker://${mirror.url.replace(/^https?:\/\//, '')}/team/app:${tag}`, `dir:${join(work, 'layers-case')}`]).then(
      () => 'copied',
      (err: { stderr?: string }) => String(err.stderr),
    );
    assert.match(copied, /denied|403/i);
    assert.equal((await get(`/v2/team/app/manifests/${tag}`)).status, 403);
    assert.equal((await get(`/v2/team/app/manifests/${tag}`, 'HEAD')).status, 403);
    assert.equal((await get(`/v2/team/app/blobs/${sha256(config)}`)).status, 403);
  });

  test('a referrer (subject set) whose layers are image layers is refused; an index under a .sig tag is refused', async () => {
    const layer = fixtures.alpine.layers[0];
    assert.ok(layer);
    const referrer = {
      schemaVersion: 2,
      mediaType: oci,
      artifactType: 'application/vnd.dev.sigstore.bundle.v0.3+json',
      config: descriptor('application/vnd.oci.empty.v1+json', emptyConfig),
      layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: layer.digest, size: layer.size }],
      subject: { mediaType: fixtures.alpine.mediaType, digest: fixtures.alpine.digest, size: fixtures.alpine.size },
    };
    const digest = await push('library/alpine', sha256(Buffer.from(JSON.stringify(referrer))), referrer, [emptyConfig]);
    assert.equal((await get(`/v2/library/alpine/manifests/${digest}`)).status, 403);
    const index = { schemaVersion: 2, mediaType: 'application/vnd.oci.image.index.v1+json', manifests: [{ mediaType: fixtures.alpine.mediaType, digest: fixtures.alpine.digest, size: fixtures.alpine.size, artifactType: simpleSigning }] };
    const tag = `sha256-${'3'.repeat(64)}.sig`;
    await push('library/alpine', tag, index, [], 'application/vnd.oci.image.index.v1+json');
    assert.equal((await get(`/v2/library/alpine/manifests/${tag}`)).status, 403);
  });

  test('a referrers index listing an unsigned image is served, and the image it lists is still refused, with its layers', async () => {
    const index = { schemaVersion: 2, mediaType: 'application/vnd.oci.image.index.v1+json', manifests: [{ mediaType: fixtures.alpine.mediaType, digest: fixtures.alpine.digest, size: fixtures.alpine.size, artifactType: simpleSigning }] };
    const tag = `sha256-${'4'.repeat(64)}`;
    await push('library/alpine', tag, index, [], 'application/vnd.oci.image.index.v1+json');
    assert.equal((await get(`/v2/library/alpine/manifests/${tag}`)).status, 200);
    assert.equal((await get(`/v2/library/alpine/manifests/${fixtures.alpine.digest}`)).status, 403);
    for (const layer of fixtures.alpine.layers) assert.equal((await get(`/v2/library/alpine/blobs/${layer.digest}`)).status, 403);
  });

  test('a served artifact gets no passing verdict: nothing it lists or names counts as part of a signed image', async () => {
    const sig = await get(`/v2/team/app/manifests/${cosignSignatureTag(fixtures.app.digest)}`);
    const index = await get(`/v2/library/alpine/manifests/sha256-${'4'.repeat(64)}`);
    assert.deepEqual([sig.status, index.status], [200, 200]);
    const verdicts = (digest: string) => (mirror.app.cache.db.prepare("SELECT count(*) AS n FROM signature_verdicts WHERE digest = ? AND result = 'pass'").get(digest) as { n: number }).n;
    assert.deepEqual([verdicts(sha256(sig.body)), verdicts(sha256(index.body))], [0, 0]);
  });
});
