import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { before, describe, it } from 'node:test';
import { TrustedRoot } from '@sigstore/protobuf-specs';
import { evaluate } from '../../../src/signature/evaluate.js';
import { compileRequirement, type RequirementConfig } from '../../../src/signature/requirement.js';
import { publicGoodTrustedRoot } from '../../../src/signature/trusted-root.js';
import { keyedCosignLayer, mockSigstore, testKey, type MockSigstore } from '../../support/sigstore-fixtures.js';

const manifest = Buffer.from('{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json"}');
const digest = `sha256:${createHash('sha256').update(manifest).digest('hex')}`;
const otherDigest = `sha256:${'1'.repeat(64)}`;
const none = { cosign: [], bundles: [] };

function requirement(config: Partial<RequirementConfig>) {
  return compileRequirement({ repositories: ['team/*'], ...config }, 'signatures[0]');
}

describe('keyed signatures in cosign tag format', () => {
  for (const kind of ['p256', 'p384', 'ed25519', 'rsa'] as const) {
    it(`a ${kind} signature of exactly the served digest passes and names its key`, () => {
      const key = testKey(kind);
      const req = requirement({ keys: [key.publicPem] });
      const v = evaluate(req, digest, manifest, { cosign: [keyedCosignLayer(key, digest)], bundles: [] }, { root: TrustedRoot.fromJSON({}) }, 1);
      assert.equal(v.result, 'pass', v.reason);
      assert.equal(v.signers.length, 1);
      assert.equal(v.signers[0]?.kind, 'key');
    });
  }

  it('no signature at all fails with "no signature found"', () => {
    const v = evaluate(requirement({ keys: [testKey('p256').publicPem] }), digest, manifest, none, { root: TrustedRoot.fromJSON({}) }, 1);
    assert.equal(v.result, 'fail');
    assert.equal(v.reason, 'no signature found');
  });

  it('a signature by another key fails with "signed by another key"', () => {
    const v = evaluate(requirement({ keys: [testKey('p256').publicPem] }), digest, manifest, { cosign: [keyedCosignLayer(testKey('p256'), digest)], bundles: [] }, { root: TrustedRoot.fromJSON({}) }, 1);
    assert.equal(v.result, 'fail');
    assert.match(v.reason ?? '', /another key/);
  });

  it('a valid signature of another digest fails and says which digest it names', () => {
    const key = testKey('p256');
    const v = evaluate(requirement({ keys: [key.publicPem] }), digest, manifest, { cosign: [keyedCosignLayer(key, digest, otherDigest)], bundles: [] }, { root: TrustedRoot.fromJSON({}) }, 1);
    assert.equal(v.result, 'fail');
    assert.match(v.reason ?? '', new RegExp(`names ${otherDigest}`));
  });

  it('a tampered payload fails', () => {
    const key = testKey('ed25519');
    const layer = keyedCosignLayer(key, digest);
    const tampered = { ...layer, payload: Buffer.from(layer.payload.toString().replace('cosign container image signature', 'cosign container image signaturX')) };
    const v = evaluate(requirement({ keys: [key.publicPem] }), digest, manifest, { cosign: [tampered], bundles: [] }, { root: TrustedRoot.fromJSON({}) }, 1);
    assert.equal(v.result, 'fail');
  });

  it('a threshold of two needs two distinct signers: the same key twice is one', () => {
    const a = testKey('p256');
    const b = testKey('p384');
    const req = requirement({ keys: [a.publicPem, b.publicPem], threshold: 2 });
    const once = evaluate(req, digest, manifest, { cosign: [keyedCosignLayer(a, digest), keyedCosignLayer(a, digest)], bundles: [] }, { root: TrustedRoot.fromJSON({}) }, 1);
    assert.equal(once.result, 'fail');
    assert.equal(once.reason, '1 of 2 required signers matched');
    const twice = evaluate(req, digest, manifest, { cosign: [keyedCosignLayer(a, digest), keyedCosignLayer(b, digest)], bundles: [] }, { root: TrustedRoot.fromJSON({}) }, 1);
    assert.equal(twice.result, 'pass');
    assert.equal(twice.signers.length, 2);
  });
});

describe('keyless Sigstore bundles (cosign 3 referrers) against a trusted root', () => {
  let sigstore: MockSigstore;
  let root: TrustedRoot;
  const subject = 'https://ci.test/team/app/.github/workflows/release.yml@refs/heads/main';
  before(async () => {
    sigstore = await mockSigstore();
    root = TrustedRoot.fromJSON(sigstore.trustedRoot);
  });

  it('a bundle by the configured identity for the served digest passes and names the identity', async () => {
    const req = requirement({ identities: [{ issuer: sigstore.issuer, subject }] });
    const v = evaluate(req, digest, manifest, { cosign: [], bundles: [await sigstore.dsseBundle(digest, subject)] }, { root }, 1);
    assert.equal(v.result, 'pass', v.reason);
    assert.deepEqual(v.signers, [{ kind: 'identity', issuer: sigstore.issuer, subject }]);
  });

  it('a subject regular expression matches the whole subject only', async () => {
    const bundle = await sigstore.dsseBundle(digest, subject);
    const whole = evaluate(requirement({ identities: [{ issuer: sigstore.issuer, subjectRegExp: 'https://ci\\.test/team/.*' }] }), digest, manifest, { cosign: [], bundles: [bundle] }, { root }, 1);
    assert.equal(whole.result, 'pass', whole.reason);
    const part = evaluate(requirement({ identities: [{ issuer: sigstore.issuer, subjectRegExp: 'team' }] }), digest, manifest, { cosign: [], bundles: [bundle] }, { root }, 1);
    assert.equal(part.result, 'fail');
  });

  it('another identity fails with "identity mismatch" naming who signed', async () => {
    const req = requirement({ identities: [{ issuer: sigstore.issuer, subject: 'https://ci.test/other' }] });
    const v = evaluate(req, digest, manifest, { cosign: [], bundles: [await sigstore.dsseBundle(digest, subject)] }, { root }, 1);
    assert.equal(v.result, 'fail');
    assert.match(v.reason ?? '', /identity mismatch/);
    assert.ok(v.reason?.includes(subject));
  });

  it('another issuer fails', async () => {
    const req = requirement({ identities: [{ issuer: sigstore.issuer, subject }] });
    const v = evaluate(req, digest, manifest, { cosign: [], bundles: [await sigstore.dsseBundle(digest, subject, { issuer: 'https://elsewhere.test' })] }, { root }, 1);
    assert.equal(v.result, 'fail');
  });

  it('a bundle for another digest fails with "signs another digest"', async () => {
    const req = requirement({ identities: [{ issuer: sigstore.issuer, subject }] });
    const v = evaluate(req, digest, manifest, { cosign: [], bundles: [await sigstore.dsseBundle(otherDigest, subject)] }, { root }, 1);
    assert.equal(v.result, 'fail');
    assert.match(v.reason ?? '', /another digest/);
  });

  it('an attestation (SLSA provenance) by the configured identity for the served digest is not a signature', async () => {
    const req = requirement({ identities: [{ issuer: sigstore.issuer, subject }] });
    const provenance = await sigstore.dsseBundle(digest, subject, { predicateType: 'https://slsa.dev/provenance/v1' });
    const v = evaluate(req, digest, manifest, { cosign: [], bundles: [provenance] }, { root }, 1);
    assert.equal(v.result, 'fail');
    assert.match(v.reason ?? '', /not a signature/);
  });

  it('a tampered statement (signature no longer over it) fails verification', async () => {
    const req = requirement({ identities: [{ issuer: sigstore.issuer, subject }] });
    const tampered = await sigstore.dsseBundle(otherDigest, subject, { tamper: true });
    // The tampered statement now names a digest that differs from otherDigest by its last hex digit; serve that.
    const named = otherDigest.replace(/.$/, (c) => (c === '0' ? '1' : '0'));
    const v = evaluate(req, named, manifest, { cosign: [], bundles: [tampered] }, { root }, 1);
    assert.equal(v.result, 'fail');
    assert.match(v.reason ?? '', /verification failed/);
  });

  it('a bundle from a CA outside the trusted root fails', async () => {
    const stranger = await mockSigstore();
    const req = requirement({ identities: [{ issuer: stranger.issuer, subject }] });
    const v = evaluate(req, digest, manifest, { cosign: [], bundles: [await stranger.dsseBundle(digest, subject)] }, { root }, 1);
    assert.equal(v.result, 'fail');
    assert.match(v.reason ?? '', /verification failed/);
  });

  it('a keyless signature in cosign tag format (certificate and Rekor annotations) passes', async () => {
    const req = requirement({ identities: [{ issuer: sigstore.issuer, subject }] });
    const v = evaluate(req, digest, manifest, { cosign: [await sigstore.cosignKeylessLayer(digest, subject)], bundles: [] }, { root }, 1);
    assert.equal(v.result, 'pass', v.reason);
  });

  it('a keyed bundle (cosign --key, new bundle format) passes with the configured key only', () => {
    const key = testKey('p256');
    const bundle = sigstore.keyedDsseBundle(digest, key);
    const ok = evaluate(requirement({ keys: [key.publicPem] }), digest, manifest, { cosign: [], bundles: [bundle] }, { root }, 1);
    assert.equal(ok.result, 'pass', ok.reason);
    const other = evaluate(requirement({ keys: [testKey('p256').publicPem] }), digest, manifest, { cosign: [], bundles: [bundle] }, { root }, 1);
    assert.equal(other.result, 'fail');
  });

  it("the public-good root shipped in @sigstore/tuf's seed loads without the network", () => {
    const pg = publicGoodTrustedRoot();
    assert.ok(pg.certificateAuthorities.length > 0);
    assert.ok(pg.tlogs.length > 0);
  });
});
