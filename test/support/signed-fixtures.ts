// Signs fixture images in a real registry the ways cosign does (docs/signatures.md), without cosign: team/app:1.0
// with `trusted` in cosign's tag scheme, library/multi:v2s2 with `stranger`, and library/multi:latest (an OCI
// index) keyless at the index with a Sigstore bundle found through the referrers tag schema (docker-registry 2.8
// has no referrers API). library/alpine stays unsigned.
import { createHash } from 'node:crypto';
import type { Fixtures } from './fixture-images.js';
import type { RealRegistry } from './real-registry.js';
import { registryPusher, type RegistryPusher } from './registry-push.js';
import { bundleReferrer, cosignSignatureManifest, cosignSignatureTag, keyedCosignLayer, type MockSigstore, type TestKey } from './sigstore-fixtures.js';

export const keylessSubject = 'https://ci.test/library/multi/.github/workflows/release.yml@refs/heads/main';

const sha256 = (b: Buffer): string => `sha256:${createHash('sha256').update(b).digest('hex')}`;

async function pushArtifact(pusher: RegistryPusher, repository: string, reference: string, artifact: { manifest: Buffer; blobs: Map<string, Buffer> }): Promise<string> {
  for (const bytes of artifact.blobs.values()) await pusher.blob(repository, bytes);
  return pusher.manifest(repository, reference, artifact.manifest, 'application/vnd.oci.image.manifest.v1+json');
}

export async function signFixtures(reg: RealRegistry, fixtures: Fixtures, keys: { trusted: TestKey; stranger: TestKey; sigstore: MockSigstore }): Promise<void> {
  const pusher = await registryPusher(reg);
  try {
    await pushArtifact(pusher, 'team/app', cosignSignatureTag(fixtures.app.digest), cosignSignatureManifest([keyedCosignLayer(keys.trusted, fixtures.app.digest)]));
    await pushArtifact(pusher, 'library/multi', cosignSignatureTag(fixtures.multiDocker.digest), cosignSignatureManifest([keyedCosignLayer(keys.stranger, fixtures.multiDocker.digest)]));
    const bundle = await keys.sigstore.dsseBundle(fixtures.multi.digest, keylessSubject);
    const referrer = bundleReferrer(bundle, { digest: fixtures.multi.digest, size: fixtures.multi.size, mediaType: fixtures.multi.mediaType });
    const referrerDigest = await pushArtifact(pusher, 'library/multi', sha256(referrer.manifest), referrer);
    const tagSchemaIndex = Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: 'application/vnd.oci.image.index.v1+json',
        manifests: [{ mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: referrerDigest, size: referrer.manifest.length, artifactType: 'application/vnd.dev.sigstore.bundle.v0.3+json' }],
      }),
    );
    await pusher.manifest('library/multi', fixtures.multi.digest.replace(':', '-'), tagSchemaIndex, 'application/vnd.oci.image.index.v1+json');
  } finally {
    await pusher.close();
  }
}

/** The `signatures` block that accepts what signFixtures signed: team/* by key, library/* by key or identity. */
export function signaturesConfig(opts: { keyFile: string; trustedPem: string; rootFile: string; issuer: string; mode: 'enforce' | 'audit' }): Record<string, unknown> {
  return {
    trustedRoot: opts.rootFile,
    require: [
      { repositories: ['team/*'], keys: [opts.keyFile], mode: opts.mode },
      { repositories: ['library/*'], keys: [opts.trustedPem], identities: [{ issuer: opts.issuer, subjectRegExp: 'https://ci\\.test/library/.*' }], mode: opts.mode },
    ],
  };
}
