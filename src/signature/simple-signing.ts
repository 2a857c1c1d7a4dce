// cosign's simple-signing payload (the `.sig` tag scheme, docs/signatures.md): what the signature covers is the
// payload's bytes; the payload names the manifest digest it vouches for.
export const simpleSigningMediaType = 'application/vnd.dev.cosign.simplesigning.v1+json';
export const signatureAnnotation = 'dev.cosignproject.cosign/signature';
export const certificateAnnotation = 'dev.sigstore.cosign/certificate';
export const chainAnnotation = 'dev.sigstore.cosign/chain';
export const rekorBundleAnnotation = 'dev.sigstore.cosign/bundle';

/** The manifest digest a simple-signing payload names, or undefined when the payload is not one. */
export function signedManifestDigest(payload: Buffer): string | undefined {
  let parsed: unknown;
  try {
    parsed = JSON.parse(payload.toString('utf8'));
  } catch {
    return undefined;
  }
  const critical = (parsed as { critical?: { image?: { 'docker-manifest-digest'?: unknown }; type?: unknown } }).critical;
  const digest = critical?.image?.['docker-manifest-digest'];
  if (typeof critical?.type !== 'string' || typeof digest !== 'string') return undefined;
  return digest;
}

/** The payload cosign signs for `digest` (used by tests and by the docs' examples). */
export function simpleSigningPayload(digest: string, dockerReference: string): Buffer {
  return Buffer.from(
    JSON.stringify({
      critical: { identity: { 'docker-reference': dockerReference }, image: { 'docker-manifest-digest': digest }, type: 'cosign container image signature' },
      optional: null,
    }),
  );
}
