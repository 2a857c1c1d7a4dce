// What a manifest points at (image-spec manifest.md, image-index.md): config and layers are blobs, index
// entries are manifests. A `subject` is not followed: it is another image's manifest, not part of this one.
import { isDigestLike, parseDigest, type Digest } from '../registry/digest.js';
import type { ManifestReferences } from './ports.js';

interface Descriptor {
  digest?: unknown;
}

interface ManifestDocument {
  config?: Descriptor;
  layers?: Descriptor[];
  blobs?: Descriptor[];
  manifests?: Descriptor[];
  fsLayers?: Array<{ blobSum?: unknown }>;
}

export function manifestReferences(bytes: Buffer): ManifestReferences {
  let doc: ManifestDocument;
  try {
    doc = JSON.parse(bytes.toString('utf8')) as ManifestDocument;
  } catch {
    return { blobs: [], manifests: [] };
  }
  if (typeof doc !== 'object' || doc === null) return { blobs: [], manifests: [] };
  const blobs = [doc.config, ...(Array.isArray(doc.layers) ? doc.layers : []), ...(Array.isArray(doc.blobs) ? doc.blobs : [])]
    .map((d) => d?.digest)
    .concat(Array.isArray(doc.fsLayers) ? doc.fsLayers.map((l) => l.blobSum) : []);
  const manifests = (Array.isArray(doc.manifests) ? doc.manifests : []).map((d) => d?.digest);
  return { blobs: unique(blobs), manifests: unique(manifests) };
}

function unique(values: unknown[]): Digest[] {
  const out = new Set<Digest>();
  for (const v of values) {
    if (typeof v !== 'string' || !isDigestLike(v)) continue;
    try {
      out.add(parseDigest(v));
    } catch {
      // an algorithm we do not verify: not tracked
    }
  }
  return [...out];
}
