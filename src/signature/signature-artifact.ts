// Signature artifacts under a signature policy (docs/signatures.md, "Signature artifacts"): cosign's `.sig` and
// `.att` manifests, OCI referrers of an image (Sigstore bundles) and the referrers tag schema's index are served
// without a signature of their own (they are the signatures; they cannot carry one). Because that is a way past
// the policy, what counts as one is narrow, and decided from the bytes, never from a tag alone:
//
// - named as one: by tag `sha256-<hex>.sig` / `.att` (cosign's scheme), by a `subject` naming a sha256 digest (a
//   referrer), or, for an index, by tag `sha256-<hex>` (the referrers tag schema);
// - an image manifest whose every layer is typed as a signature document and whose config is an empty or image
//   config, all small; an index whose every entry is an image manifest carrying an `artifactType`;
// - and every blob it names is a signature document: a JSON object that is not also a tar archive (checked by the
//   mirror before the manifest is served, and again for each blob served under it). A runnable image needs at least
//   one filesystem layer; a JSON object cannot be one, so no image runs from what this rule lets through, and an
//   index's entries are judged on their own.
import { mediaTypes } from '../registry/media-types.js';
import { bundleMediaType } from './sigstore-bundle.js';
import { simpleSigningMediaType } from './simple-signing.js';

/** Signature documents (payloads, DSSE envelopes, bundles, configs) are small; a larger blob is not one. */
export const maxArtifactBlobBytes = 4 * 1024 * 1024;
/** Blobs one artifact may name (cosign writes one layer per signature). */
export const maxArtifactBlobs = 64;

const documentTypes = new Set([
  simpleSigningMediaType,
  'application/vnd.dsse.envelope.v1+json',
  'application/vnd.dev.sigstore.bundle+json;version=0.1',
  'application/vnd.dev.sigstore.bundle+json;version=0.2',
  'application/vnd.dev.sigstore.bundle+json;version=0.3',
  'application/vnd.dev.sigstore.bundle.v0.2+json',
  bundleMediaType,
]);
const configTypes = new Set(['application/vnd.oci.empty.v1+json', 'application/vnd.oci.image.config.v1+json', 'application/vnd.docker.container.image.v1+json']);
const imageManifestTypes = new Set<string>([mediaTypes.ociManifest, mediaTypes.dockerManifest]);

const cosignTag = /^sha256-[a-f0-9]{64}\.(?:sig|att)$/;
const referrersTag = /^sha256-[a-f0-9]{64}$/;
const sha256Digest = /^sha256:[a-f0-9]{64}$/;

interface Descriptor {
  mediaType?: unknown;
  digest?: unknown;
  size?: unknown;
  artifactType?: unknown;
}

interface ManifestDoc {
  mediaType?: unknown;
  config?: Descriptor;
  layers?: unknown;
  manifests?: unknown;
  subject?: Descriptor;
}

export interface ArtifactBlob {
  digest: string;
  size: number;
}

export type ArtifactShape = { kind: 'manifest'; blobs: ArtifactBlob[] } | { kind: 'index' };

function parse(bytes: Buffer): ManifestDoc | undefined {
  try {
    const doc: unknown = JSON.parse(bytes.toString('utf8'));
    return typeof doc === 'object' && doc !== null && !Array.isArray(doc) && !hasFoldedField(doc) ? (doc as ManifestDoc) : undefined;
  } catch {
    return undefined;
  }
}

/** The fields this rule reads. */
const readFields = new Set(['mediaType', 'config', 'layers', 'manifests', 'subject', 'digest', 'size', 'artifactType']);
/** Go's case folding for ASCII letters (`ſ` is an `s` and the Kelvin sign a `k` there). */
const fold = (key: string): string => key.toUpperCase().toLowerCase();
const foldedFields = new Map([...readFields].map((f) => [fold(f), f]));

/**
 * Whether any object in the document has a key that is not one of the fields read here but that a Go client (Docker,
 * containerd, podman, skopeo: encoding/json matches keys case-insensitively, the last one winning) reads as one:
 * `"layers"` judged here beside a `"Layers"` the client pulls would let an image past the policy.
 */
function hasFoldedField(value: unknown): boolean {
  if (typeof value !== 'object' || value === null) return false;
  if (Array.isArray(value)) return value.some(hasFoldedField);
  for (const [key, v] of Object.entries(value)) {
    const field = foldedFields.get(fold(key));
    if ((field !== undefined && field !== key) || hasFoldedField(v)) return true;
  }
  return false;
}

const smallDescriptor = (d: Descriptor): d is { mediaType: string; digest: string; size: number } =>
  typeof d.mediaType === 'string' &&
  typeof d.digest === 'string' &&
  sha256Digest.test(d.digest) &&
  typeof d.size === 'number' &&
  Number.isSafeInteger(d.size) &&
  d.size >= 0 &&
  d.size <= maxArtifactBlobBytes;

/** The blobs of an image manifest shaped as a signature artifact; undefined for anything else. */
function artifactManifestBlobs(doc: ManifestDoc, mediaType: string): ArtifactBlob[] | undefined {
  if (!imageManifestTypes.has(mediaType) || doc.manifests !== undefined) return undefined;
  const layers = doc.layers;
  if (!Array.isArray(layers) || layers.length === 0 || layers.length >= maxArtifactBlobs) return undefined;
  const config = doc.config;
  if (!config || !smallDescriptor(config) || !configTypes.has(config.mediaType)) return undefined;
  const blobs: ArtifactBlob[] = [{ digest: config.digest, size: config.size }];
  for (const layer of layers as Descriptor[]) {
    if (typeof layer !== 'object' || layer === null || !smallDescriptor(layer) || !documentTypes.has(layer.mediaType)) return undefined;
    blobs.push({ digest: layer.digest, size: layer.size });
  }
  return blobs;
}

/** An index of the referrers tag schema: every entry an image manifest with an artifact type. */
function isReferrersIndex(doc: ManifestDoc, mediaType: string): boolean {
  if (mediaType !== mediaTypes.ociIndex || !Array.isArray(doc.manifests) || doc.layers !== undefined) return false;
  return (doc.manifests as Descriptor[]).every(
    (d) => typeof d === 'object' && d !== null && typeof d.artifactType === 'string' && typeof d.mediaType === 'string' && imageManifestTypes.has(d.mediaType) && typeof d.digest === 'string' && sha256Digest.test(d.digest),
  );
}

/**
 * Whether a manifest requested by `tag` (undefined: by digest) is named as a signature artifact and shaped as one;
 * what its blobs must then be is the caller's to check (isSignatureDocument).
 */
export function signatureArtifact(tag: string | undefined, mediaType: string, bytes: Buffer): ArtifactShape | undefined {
  const doc = parse(bytes);
  if (!doc) return undefined;
  if (tag !== undefined && referrersTag.test(tag)) return isReferrersIndex(doc, mediaType) ? { kind: 'index' } : undefined;
  const named = (tag !== undefined && cosignTag.test(tag)) || (typeof doc.subject?.digest === 'string' && sha256Digest.test(doc.subject.digest));
  if (!named) return undefined;
  const blobs = artifactManifestBlobs(doc, mediaType);
  return blobs ? { kind: 'manifest', blobs } : undefined;
}

/** Whether a stored manifest is shaped as a signature artifact's image manifest (a blob it names may be one). */
export function isArtifactManifest(mediaType: string, bytes: Buffer): boolean {
  const doc = parse(bytes);
  return doc !== undefined && artifactManifestBlobs(doc, mediaType) !== undefined;
}

/** A signature document: a JSON object, and not also a tar archive (a polyglot could be unpacked as a layer). */
export function isSignatureDocument(bytes: Buffer): boolean {
  if (bytes.length > maxArtifactBlobBytes || looksLikeTar(bytes)) return false;
  try {
    const doc: unknown = JSON.parse(bytes.toString('utf8'));
    return typeof doc === 'object' && doc !== null && !Array.isArray(doc);
  } catch {
    return false;
  }
}

/**
 * Whether the first 512 bytes are a tar header: its checksum field (octal, at 148) equals the sum of the header's
 * bytes with that field read as spaces, signed or unsigned, as tar readers (Go's archive/tar among them) accept.
 */
export function looksLikeTar(bytes: Buffer): boolean {
  if (bytes.length < 512) return false;
  const field = bytes.subarray(148, 156).toString('latin1').replace(/[\0 ]+$/g, '').replace(/^[\0 ]+/g, '');
  if (!/^[0-7]+$/.test(field)) return false;
  const recorded = parseInt(field, 8);
  let unsigned = 0;
  let signed = 0;
  for (let i = 0; i < 512; i++) {
    const b = i >= 148 && i < 156 ? 0x20 : (bytes[i] as number);
    unsigned += b;
    signed += b < 0x80 ? b : b - 0x100;
  }
  return recorded === unsigned || recorded === signed;
}
