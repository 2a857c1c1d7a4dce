// Sigstore bundles (what cosign 3 attaches as an OCI 1.1 referrer): parsed by @sigstore/bundle and verified by
// @sigstore/verify (certificate chain, certificate transparency, transparency log, timestamps, signature). What is
// decided here: that the bundle vouches for exactly the manifest digest served, and which configured signer made
// it. Never hand-rolled X.509 or transparency-log checks (docs/signatures.md).
import { createHash } from 'node:crypto';
import { createRequire } from 'node:module';
import type { Bundle } from '@sigstore/bundle';
import type { TrustedRoot } from '@sigstore/protobuf-specs';
import type { Signer } from '@sigstore/verify';
import { matchesRule, type IdentityRule, type PublicKeyEntry } from './requirement.js';
import type { SignerId } from './verdict.js';

// Loaded on the first bundle checked: a mirror without signature requirements never needs them (a few MB of RSS).
const load = createRequire(import.meta.url);
let sigstore: { bundle: typeof import('@sigstore/bundle'); verify: typeof import('@sigstore/verify') } | undefined;
const lib = () => (sigstore ??= { bundle: load('@sigstore/bundle') as typeof import('@sigstore/bundle'), verify: load('@sigstore/verify') as typeof import('@sigstore/verify') });

export const bundleMediaType = 'application/vnd.dev.sigstore.bundle.v0.3+json';
const inTotoPayloadType = 'application/vnd.in-toto+json';
/**
 * The predicate type of an image signature made by cosign 3. Attestations (SBOM, provenance, scan results) are
 * referrers with the same artifact type and subject, but they are statements about an image, not signatures of it
 * (docs/signatures.md, Limits).
 */
export const signaturePredicateType = 'https://sigstore.dev/cosign/sign/v1';

export interface BundleTrust {
  root: TrustedRoot;
  keys: readonly PublicKeyEntry[];
  identities: readonly IdentityRule[];
}

export type BundleCheck = { ok: true; signer: SignerId } | { ok: false; reason: string };

/**
 * Why what the bundle signs is not a signature of `digest` (`sha256:<hex>`), or undefined when it is: a DSSE bundle
 * must be cosign's signing statement naming the digest (an SBOM or provenance attestation by the same signer is not
 * a signature); a message signature must be over the manifest bytes served.
 */
function notSignatureOf(bundle: Bundle, digest: string, manifest: Buffer): string | undefined {
  const [algorithm, hex] = digest.split(':');
  if (bundle.content.$case === 'dsseEnvelope') {
    const envelope = bundle.content.dsseEnvelope;
    if (envelope.payloadType !== inTotoPayloadType) return `the bundle signs ${envelope.payloadType}, not an in-toto statement`;
    let statement: { predicateType?: unknown; subject?: { digest?: Record<string, unknown> }[] };
    try {
      statement = JSON.parse(Buffer.from(envelope.payload).toString('utf8')) as typeof statement;
    } catch {
      return 'the bundle signs a statement that is not JSON';
    }
    if (statement.predicateType !== signaturePredicateType) return `the bundle is an attestation (${String(statement.predicateType)}), not a signature`;
    const named = (statement.subject ?? []).some((s) => algorithm !== undefined && s.digest?.[algorithm] === hex);
    return named ? undefined : 'the bundle signs another digest';
  }
  const signed = Buffer.from(bundle.content.messageSignature.messageDigest?.digest ?? []);
  const matches = signed.equals(createHash('sha256').update(manifest).digest()) && `sha256:${signed.toString('hex')}` === digest;
  return matches ? undefined : 'the bundle signs another digest';
}

function identityOf(signer: Signer): { issuer?: string; subject?: string } {
  return { ...(signer.identity?.extensions?.issuer ? { issuer: signer.identity.extensions.issuer } : {}), ...(signer.identity?.subjectAlternativeName ? { subject: signer.identity.subjectAlternativeName } : {}) };
}

/** Verifies `json` as a bundle for the manifest `digest` (whose bytes are `manifest`) against `trust`. */
export function checkBundle(json: unknown, digest: string, manifest: Buffer, trust: BundleTrust): BundleCheck {
  let bundle: Bundle;
  try {
    bundle = lib().bundle.bundleFromJSON(json);
  } catch (err) {
    return { ok: false, reason: `not a Sigstore bundle: ${(err as Error).message}` };
  }
  const mismatch = notSignatureOf(bundle, digest, manifest);
  if (mismatch !== undefined) return { ok: false, reason: mismatch };
  const artifact = bundle.content.$case === 'messageSignature' ? manifest : undefined;
  if (bundle.verificationMaterial.content.$case === 'publicKey') return checkKeyedBundle(bundle, artifact, trust);
  const { Verifier, toSignedEntity, toTrustMaterial } = lib().verify;
  const verifier = new Verifier(toTrustMaterial(trust.root), { tlogThreshold: 1, ctlogThreshold: 1, timestampThreshold: 1 });
  let signer: Signer;
  try {
    signer = verifier.verify(toSignedEntity(bundle, artifact));
  } catch (err) {
    return { ok: false, reason: `bundle verification failed: ${(err as Error).message}` };
  }
  const who = identityOf(signer);
  const rule = trust.identities.find((r) => matchesRule(who.issuer, r.issuer, r.issuerRegExp) && matchesRule(who.subject, r.subject, r.subjectRegExp));
  if (!rule) return { ok: false, reason: `identity mismatch: signed by ${who.subject ?? '?'} (issuer ${who.issuer ?? '?'})` };
  return { ok: true, signer: { kind: 'identity', issuer: who.issuer ?? '', subject: who.subject ?? '' } };
}

/** A bundle signed by a key (cosign --key with the new bundle format): one of the configured keys must verify it. */
function checkKeyedBundle(bundle: Bundle, artifact: Buffer | undefined, trust: BundleTrust): BundleCheck {
  const { Verifier, toSignedEntity, toTrustMaterial } = lib().verify;
  for (const entry of trust.keys) {
    const material = toTrustMaterial(trust.root, () => ({ publicKey: entry.key, validFor: () => true }));
    // A keyed signature may have been made without the transparency log (cosign --tlog-upload=false).
    const verifier = new Verifier(material, { tlogThreshold: 0, ctlogThreshold: 0, timestampThreshold: 0 });
    try {
      verifier.verify(toSignedEntity(bundle, artifact));
      return { ok: true, signer: { kind: 'key', id: entry.id } };
    } catch {
      // not this key
    }
  }
  return { ok: false, reason: 'signed by another key' };
}
