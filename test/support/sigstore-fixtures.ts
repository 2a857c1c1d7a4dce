// Signatures for test images made without cosign (docs/signatures.md): keyed simple-signing layers in cosign's tag
// format signed with node:crypto, and keyless Sigstore bundles (a DSSE in-toto statement, as cosign 3 attaches)
// with a certificate from @sigstore/mock's Fulcio, an entry in its Rekor and a trusted root built from both.
import { createHash, generateKeyPairSync, sign, X509Certificate, type KeyObject } from 'node:crypto';
import { initializeCA, initializeCTLog, initializeTLog } from '@sigstore/mock';

type CA = Awaited<ReturnType<typeof initializeCA>>;
type TLog = Awaited<ReturnType<typeof initializeTLog>>;
import { cosignSignatureTag, type SignatureLayer } from '../../src/signature/cosign-signatures.js';
import { bundleMediaType } from '../../src/signature/sigstore-bundle.js';
import { certificateAnnotation, rekorBundleAnnotation, signatureAnnotation, simpleSigningPayload } from '../../src/signature/simple-signing.js';

export type KeyKind = 'p256' | 'p384' | 'ed25519' | 'rsa';

export interface TestKey {
  publicPem: string;
  privateKey: KeyObject;
  kind: KeyKind;
}

export function testKey(kind: KeyKind): TestKey {
  const pair =
    kind === 'ed25519'
      ? generateKeyPairSync('ed25519')
      : kind === 'rsa'
        ? generateKeyPairSync('rsa', { modulusLength: 2048 })
        : generateKeyPairSync('ec', { namedCurve: kind === 'p256' ? 'prime256v1' : 'secp384r1' });
  return { publicPem: pair.publicKey.export({ type: 'spki', format: 'pem' }).toString(), privateKey: pair.privateKey, kind };
}

const hashFor = (k: TestKey): string | null => (k.kind === 'ed25519' ? null : k.kind === 'p384' ? 'sha384' : 'sha256');

/** A cosign `.sig` layer signing `digest` with `key`; `payloadDigest` lets a test sign another digest. */
export function keyedCosignLayer(key: TestKey, digest: string, payloadDigest = digest): SignatureLayer {
  const payload = simpleSigningPayload(payloadDigest, 'registry.test/app');
  const signature = sign(hashFor(key), payload, key.privateKey);
  return { payload, annotations: { [signatureAnnotation]: signature.toString('base64') } };
}

/** The `.sig` manifest of cosign's tag scheme holding `layers`, and the blobs it references. */
export function cosignSignatureManifest(layers: SignatureLayer[]): { manifest: Buffer; blobs: Map<string, Buffer> } {
  const blobs = new Map<string, Buffer>();
  const config = Buffer.from('{}');
  const configDigest = `sha256:${createHash('sha256').update(config).digest('hex')}`;
  blobs.set(configDigest, config);
  const descriptors = layers.map((l) => {
    const d = `sha256:${createHash('sha256').update(l.payload).digest('hex')}`;
    blobs.set(d, l.payload);
    return { mediaType: 'application/vnd.dev.cosign.simplesigning.v1+json', digest: d, size: l.payload.length, annotations: l.annotations };
  });
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: configDigest, size: config.length },
      layers: descriptors,
    }),
  );
  return { manifest, blobs };
}

export { cosignSignatureTag };

/** A referrer manifest carrying `bundle` for `subject`, as cosign 3 attaches it, with its blobs. */
export function bundleReferrer(bundle: object, subject: { digest: string; size: number; mediaType: string }): { manifest: Buffer; blobs: Map<string, Buffer> } {
  const blobs = new Map<string, Buffer>();
  const empty = Buffer.from('{}');
  const emptyDigest = `sha256:${createHash('sha256').update(empty).digest('hex')}`;
  blobs.set(emptyDigest, empty);
  const bytes = Buffer.from(JSON.stringify(bundle));
  const bundleDigest = `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
  blobs.set(bundleDigest, bytes);
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      artifactType: bundleMediaType,
      config: { mediaType: 'application/vnd.oci.empty.v1+json', digest: emptyDigest, size: 2 },
      layers: [{ mediaType: bundleMediaType, digest: bundleDigest, size: bytes.length }],
      subject,
      annotations: { 'dev.sigstore.bundle.content': 'dsse-envelope', 'dev.sigstore.bundle.predicateType': 'https://sigstore.dev/cosign/sign/v1' },
    }),
  );
  return { manifest, blobs };
}

export interface MockSigstore {
  /** The trusted root (JSON) naming the mock CA, CT log and transparency log. */
  trustedRoot: object;
  issuer: string;
  /** A keyless DSSE bundle for `digest`, signed as `subject` (a URI SAN). */
  dsseBundle(digest: string, subject: string, options?: { issuer?: string; tamper?: boolean; predicateType?: string }): Promise<object>;
  /** A keyless cosign `.sig` layer (simple signing + certificate + Rekor entry) for `digest`. */
  cosignKeylessLayer(digest: string, subject: string): Promise<SignatureLayer>;
  /** A bundle signed with a plain key (cosign --key with the new bundle format, no transparency log). */
  keyedDsseBundle(digest: string, key: TestKey): object;
}

const b64 = (b: Buffer | Uint8Array): string => Buffer.from(b).toString('base64');
const pae = (type: string, body: Buffer): Buffer =>
  Buffer.concat([Buffer.from(`DSSEv1 ${type.length} ${type} ${body.length} `), body]);

function statement(digest: string, predicateType = 'https://sigstore.dev/cosign/sign/v1'): Buffer {
  const [alg, hex] = digest.split(':');
  return Buffer.from(
    JSON.stringify({ _type: 'https://in-toto.io/Statement/v1', subject: [{ name: 'registry.test/app', digest: { [alg ?? 'sha256']: hex } }], predicateType, predicate: {} }),
  );
}

function ecKeys(): { publicKey: KeyObject; privateKey: KeyObject } {
  return generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
}

async function rekorEntry(tlog: TLog, body: object): Promise<{ entry: object; annotation: string }> {
  const logged = await tlog.log(body);
  const [only] = Object.values(logged) as { body: string; integratedTime: number; logID: string; logIndex: number; verification: { signedEntryTimestamp: string; inclusionProof: { checkpoint: string; rootHash: string; treeSize: number; logIndex: number } } }[];
  if (!only) throw new Error('the mock Rekor returned no entry');
  const kind = (body as { kind: string }).kind;
  const entry = {
    logIndex: String(only.logIndex),
    logId: { keyId: b64(Buffer.from(only.logID, 'hex')) },
    kindVersion: { kind, version: '0.0.1' },
    integratedTime: String(only.integratedTime),
    inclusionPromise: { signedEntryTimestamp: only.verification.signedEntryTimestamp },
    inclusionProof: {
      logIndex: String(only.verification.inclusionProof.logIndex),
      rootHash: b64(Buffer.from(only.verification.inclusionProof.rootHash, 'hex')),
      treeSize: String(only.verification.inclusionProof.treeSize),
      hashes: [],
      checkpoint: { envelope: only.verification.inclusionProof.checkpoint },
    },
    canonicalizedBody: only.body,
  };
  const annotation = JSON.stringify({ SignedEntryTimestamp: only.verification.signedEntryTimestamp, Payload: { body: only.body, integratedTime: only.integratedTime, logIndex: only.logIndex, logID: only.logID } });
  return { entry, annotation };
}

export async function mockSigstore(): Promise<MockSigstore> {
  const issuer = 'https://issuer.test';
  const ctLog = await initializeCTLog(ecKeys());
  const ca: CA = await initializeCA(ecKeys(), ctLog);
  const tlog: TLog = await initializeTLog('https://rekor.test', ecKeys());
  const start = new Date(Date.now() - 3600_000).toISOString();
  const trustedRoot = {
    mediaType: 'application/vnd.dev.sigstore.trustedroot+json;version=0.1',
    tlogs: [
      {
        baseUrl: 'https://rekor.test',
        hashAlgorithm: 'SHA2_256',
        publicKey: { rawBytes: b64(tlog.publicKey), keyDetails: 'PKIX_ECDSA_P256_SHA_256', validFor: { start } },
        logId: { keyId: b64(createHash('sha256').update(tlog.publicKey).digest()) },
      },
    ],
    certificateAuthorities: [
      { subject: { organization: 'test', commonName: 'test' }, uri: 'https://fulcio.test', certChain: { certificates: [{ rawBytes: b64(Buffer.from(ca.rootCertificate.buffer)) }] }, validFor: { start } },
    ],
    ctlogs: [
      {
        baseUrl: 'https://ctfe.test',
        hashAlgorithm: 'SHA2_256',
        publicKey: { rawBytes: b64(ctLog.publicKey), keyDetails: 'PKIX_ECDSA_P256_SHA_256', validFor: { start } },
        logId: { keyId: b64(Buffer.from(ctLog.logID.buffer)) },
      },
    ],
    timestampAuthorities: [],
  };

  async function certificate(subject: string, certIssuer: string): Promise<{ der: Buffer; pem: string; keys: { publicKey: KeyObject; privateKey: KeyObject } }> {
    const keys = ecKeys();
    const der = Buffer.from(
      (await ca.issueCertificate({ publicKey: keys.publicKey.export({ type: 'spki', format: 'der' }), subjectAltName: subject, extensions: [{ oid: '1.3.6.1.4.1.57264.1.1', value: certIssuer, legacy: true }] })).buffer,
    );
    return { der, pem: new X509Certificate(der).toString(), keys };
  }

  return {
    trustedRoot,
    issuer,
    async dsseBundle(digest, subject, options = {}) {
      const cert = await certificate(subject, options.issuer ?? issuer);
      const payload = statement(digest, options.predicateType);
      const type = 'application/vnd.in-toto+json';
      const signature = sign('sha256', pae(type, payload), cert.keys.privateKey);
      const body = {
        apiVersion: '0.0.1',
        kind: 'dsse',
        spec: { payloadHash: { algorithm: 'sha256', value: createHash('sha256').update(payload).digest('hex') }, signatures: [{ signature: b64(signature), verifier: b64(Buffer.from(cert.pem)) }] },
      };
      const { entry } = await rekorEntry(tlog, body);
      const signed = options.tamper ? statement(digest.replace(/.$/, (c) => (c === '0' ? '1' : '0'))) : payload;
      return {
        mediaType: bundleMediaType,
        verificationMaterial: { certificate: { rawBytes: b64(cert.der) }, tlogEntries: [entry], timestampVerificationData: { rfc3161Timestamps: [] } },
        dsseEnvelope: { payload: b64(signed), payloadType: type, signatures: [{ sig: b64(signature), keyid: '' }] },
      };
    },
    async cosignKeylessLayer(digest, subject) {
      const cert = await certificate(subject, issuer);
      const payload = simpleSigningPayload(digest, 'registry.test/app');
      const signature = sign('sha256', payload, cert.keys.privateKey);
      const body = {
        apiVersion: '0.0.1',
        kind: 'hashedrekord',
        spec: { data: { hash: { algorithm: 'sha256', value: createHash('sha256').update(payload).digest('hex') } }, signature: { content: b64(signature), publicKey: { content: b64(Buffer.from(cert.pem)) } } },
      };
      const { annotation } = await rekorEntry(tlog, body);
      return { payload, annotations: { [signatureAnnotation]: b64(signature), [certificateAnnotation]: cert.pem, [rekorBundleAnnotation]: annotation } };
    },
    keyedDsseBundle(digest, key) {
      const payload = statement(digest);
      const type = 'application/vnd.in-toto+json';
      const signature = sign(hashFor(key), pae(type, payload), key.privateKey);
      return {
        mediaType: bundleMediaType,
        verificationMaterial: { publicKey: { hint: '' }, tlogEntries: [], timestampVerificationData: { rfc3161Timestamps: [] } },
        dsseEnvelope: { payload: b64(payload), payloadType: type, signatures: [{ sig: b64(signature), keyid: '' }] },
      };
    },
  };
}
