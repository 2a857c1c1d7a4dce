// Signatures in cosign's tag scheme (`sha256-<hex>.sig`, docs/signatures.md): each layer of that manifest is a
// simple-signing payload with its signature in an annotation, and for keyless signatures the Fulcio certificate
// and the Rekor entry (its signed entry timestamp) in two more. Keyed ones are checked with node:crypto; keyless
// ones are turned into the Sigstore bundle they amount to and checked by @sigstore/verify.
import { createHash, X509Certificate } from 'node:crypto';
import { keyThatSigned } from './keyed-signature.js';
import { checkBundle, type BundleTrust, type BundleCheck } from './sigstore-bundle.js';
import { certificateAnnotation, rekorBundleAnnotation, signatureAnnotation, signedManifestDigest } from './simple-signing.js';

export interface SignatureLayer {
  payload: Buffer;
  annotations: Record<string, string>;
}

/** The tag under which cosign stores the signatures of `digest`. */
export const cosignSignatureTag = (digest: string): string => `${digest.replace(':', '-')}.sig`;

interface RekorAnnotation {
  SignedEntryTimestamp?: string;
  Payload?: { body?: string; integratedTime?: number; logIndex?: number; logID?: string };
}

/** The v0.1 bundle a keyless cosign signature amounts to (message signature, certificate, Rekor promise). */
function legacyBundle(layer: SignatureLayer, signature: Buffer): object | undefined {
  const pem = layer.annotations[certificateAnnotation];
  const rekor = layer.annotations[rekorBundleAnnotation];
  if (!pem || !rekor) return undefined;
  let entry: RekorAnnotation;
  let der: Buffer;
  try {
    entry = JSON.parse(rekor) as RekorAnnotation;
    der = new X509Certificate(pem).raw;
  } catch {
    return undefined;
  }
  const p = entry.Payload;
  if (!p?.body || p.integratedTime === undefined || p.logIndex === undefined || !p.logID || !entry.SignedEntryTimestamp) return undefined;
  let kind = 'hashedrekord';
  let version = '0.0.1';
  try {
    const body = JSON.parse(Buffer.from(p.body, 'base64').toString('utf8')) as { kind?: string; apiVersion?: string };
    kind = body.kind ?? kind;
    version = body.apiVersion ?? version;
  } catch {
    return undefined;
  }
  return {
    mediaType: 'application/vnd.dev.sigstore.bundle+json;version=0.1',
    verificationMaterial: {
      x509CertificateChain: { certificates: [{ rawBytes: der.toString('base64') }] },
      tlogEntries: [
        {
          logIndex: String(p.logIndex),
          logId: { keyId: Buffer.from(p.logID, 'hex').toString('base64') },
          kindVersion: { kind, version },
          integratedTime: String(p.integratedTime),
          inclusionPromise: { signedEntryTimestamp: entry.SignedEntryTimestamp },
          canonicalizedBody: p.body,
        },
      ],
      timestampVerificationData: { rfc3161Timestamps: [] },
    },
    messageSignature: {
      messageDigest: { algorithm: 'SHA2_256', digest: createHash('sha256').update(layer.payload).digest('base64') },
      signature: signature.toString('base64'),
    },
  };
}

/** Checks one layer of a `.sig` manifest as a signature of `digest`. */
export function checkCosignLayer(layer: SignatureLayer, digest: string, trust: BundleTrust): BundleCheck {
  const named = signedManifestDigest(layer.payload);
  if (named === undefined) return { ok: false, reason: 'not a simple-signing payload' };
  if (named !== digest) return { ok: false, reason: `the signature names ${named}, not ${digest}` };
  const encoded = layer.annotations[signatureAnnotation];
  if (!encoded) return { ok: false, reason: 'no signature annotation' };
  const signature = Buffer.from(encoded, 'base64');
  const keyed = keyThatSigned(layer.payload, signature, trust.keys);
  if (keyed) return { ok: true, signer: { kind: 'key', id: keyed.id } };
  const bundle = legacyBundle(layer, signature);
  if (!bundle) return { ok: false, reason: trust.keys.length > 0 ? 'signed by another key' : 'no certificate and transparency-log entry for a keyless signature' };
  // The legacy bundle's message is the payload, so the digest check is the payload's (done above).
  return checkLegacyBundle(bundle, layer.payload, trust);
}

function checkLegacyBundle(bundle: object, payload: Buffer, trust: BundleTrust): BundleCheck {
  const payloadDigest = `sha256:${createHash('sha256').update(payload).digest('hex')}`;
  return checkBundle(bundle, payloadDigest, payload, trust);
}
