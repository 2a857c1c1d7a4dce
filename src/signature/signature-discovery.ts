// Where signatures of a manifest are found (docs/signatures.md): cosign's tag scheme (`sha256-<hex>.sig`) and the
// OCI 1.1 referrers of the manifest with the Sigstore bundle artifact type, through the referrers API or, for
// registries without it, the referrers tag schema (`sha256-<hex>`).
import { cosignSignatureTag, type SignatureLayer } from './cosign-signatures.js';
import { bundleMediaType } from './sigstore-bundle.js';
import { simpleSigningMediaType } from './simple-signing.js';
import type { SignatureSource } from './signature-source.js';

/** Signature payloads and bundles are small; anything larger is not one. */
export const maxSignatureBytes = 256 * 1024;
/** How many signatures of one manifest are looked at, at most. */
const maxCandidates = 16;

interface Descriptor {
  mediaType?: string;
  digest?: string;
  size?: number;
  artifactType?: string;
  annotations?: Record<string, string>;
}

interface ManifestShape {
  artifactType?: string;
  config?: Descriptor;
  layers?: Descriptor[];
  manifests?: Descriptor[];
}

export interface Candidates {
  cosign: SignatureLayer[];
  bundles: unknown[];
}

function parse(bytes: Buffer | undefined): ManifestShape | undefined {
  if (!bytes) return undefined;
  try {
    return JSON.parse(bytes.toString('utf8')) as ManifestShape;
  } catch {
    return undefined;
  }
}

const isDigest = (d: unknown): d is string => typeof d === 'string' && /^sha256:[a-f0-9]{64}$/.test(d);
const small = (d: Descriptor): boolean => typeof d.size === 'number' && d.size >= 0 && d.size <= maxSignatureBytes;

async function cosignLayers(source: SignatureSource, digest: string): Promise<SignatureLayer[]> {
  const manifest = parse(await source.manifest(cosignSignatureTag(digest)));
  const out: SignatureLayer[] = [];
  for (const layer of (manifest?.layers ?? []).slice(0, maxCandidates)) {
    if (layer.mediaType !== simpleSigningMediaType || !isDigest(layer.digest) || !small(layer)) continue;
    out.push({ payload: await source.blob(layer.digest, maxSignatureBytes), annotations: layer.annotations ?? {} });
  }
  return out;
}

/** The referrers index: the API's answer, or the tag schema's index when the registry lacks the API. */
async function referrersIndex(source: SignatureSource, digest: string): Promise<ManifestShape | undefined> {
  const api = await source.referrers(digest);
  if (api !== undefined) return parse(api);
  return parse(await source.manifest(digest.replace(':', '-')));
}

async function bundles(source: SignatureSource, digest: string): Promise<unknown[]> {
  const index = await referrersIndex(source, digest);
  const out: unknown[] = [];
  const referrers = (index?.manifests ?? []).filter((m) => m.artifactType === bundleMediaType && isDigest(m.digest));
  for (const referrer of referrers.slice(0, maxCandidates)) {
    const manifest = parse(await source.manifest(referrer.digest as string));
    const layer = manifest?.layers?.find((l) => l.mediaType === bundleMediaType && isDigest(l.digest) && small(l));
    if (!layer) continue;
    try {
      out.push(JSON.parse((await source.blob(layer.digest as string, maxSignatureBytes)).toString('utf8')));
    } catch {
      // not JSON: not a bundle, the others may still be
    }
  }
  return out;
}

/** Every signature of `digest` that the registry holds in either place. */
export async function findSignatures(source: SignatureSource, digest: string): Promise<Candidates> {
  const [cosign, found] = await Promise.all([cosignLayers(source, digest), bundles(source, digest)]);
  return { cosign, bundles: found };
}
