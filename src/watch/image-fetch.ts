// Fetching one image through the mirror's own use cases (docs/watch.md): the same fills, verification and cache as
// a client's pull, so a client pulling the same blob at the same moment follows the same single upstream fetch.
import type { Readable } from 'node:stream';
import { getBlob } from '../mirror/blobs.js';
import { getManifest } from '../mirror/manifests.js';
import type { PullContext } from '../mirror/reply.js';
import type { MirrorServices } from '../mirror/services.js';
import { isDigestLike, parseDigest, type Digest } from '../registry/digest.js';
import { fullManifestAccept, isIndexType } from '../registry/media-types.js';
import type { Reference } from '../registry/names.js';

interface Descriptor {
  digest?: string;
  size?: number;
  platform?: { os?: string; architecture?: string; variant?: string };
}

interface ManifestDoc {
  manifests?: Descriptor[];
  layers?: Descriptor[];
  config?: Descriptor;
  blobs?: Descriptor[];
}

export interface FetchedImage {
  /** Blobs that were not cached before and were fetched now. */
  blobsFetched: number;
  bytesFetched: number;
  /** Platforms fetched (`os/arch[/variant]`), empty for a single-platform image. */
  platforms: string[];
}

export const platformName = (p: Descriptor['platform']): string | undefined =>
  p?.os && p.architecture && p.os !== 'unknown' ? [p.os, p.architecture, p.variant].filter(Boolean).join('/') : undefined;

/** Blobs at once per image: a few, so a run never takes over the upstream connection pool. */
const blobsAtOnce = 3;

/**
 * Fetches the image `reference` names (manifest, the wanted platforms of an index, their blobs) into the cache.
 * `platforms` empty: every platform. Blobs already cached are not fetched (nor read) again.
 */
export async function fetchImage(svc: MirrorServices, ctx: () => PullContext, reference: Reference, platforms: readonly string[]): Promise<FetchedImage> {
  const manifest = async (ref: Reference): Promise<{ mediaType: string; doc: ManifestDoc }> => {
    const reply = await getManifest(svc, ctx(), { method: 'GET', reference: ref, accept: fullManifestAccept });
    return { mediaType: reply.headers['content-type'] ?? '', doc: JSON.parse((reply.body as Buffer).toString('utf8')) as ManifestDoc };
  };
  const top = await manifest(reference);
  const chosen: string[] = [];
  let images = [top];
  if (isIndexType(top.mediaType) || Array.isArray(top.doc.manifests)) {
    const wanted = (top.doc.manifests ?? []).filter((d) => {
      const name = platformName(d.platform);
      if (name === undefined) return false;
      return platforms.length === 0 || platforms.some((p) => name === p || name.startsWith(`${p}/`));
    });
    images = await Promise.all(wanted.map((d) => manifest({ kind: 'digest', digest: parseDigest(String(d.digest)) })));
    chosen.push(...wanted.map((d) => platformName(d.platform) ?? ''));
  }
  const blobs = new Map<Digest, number>();
  for (const m of images) {
    for (const d of [m.doc.config, ...(m.doc.layers ?? []), ...(m.doc.blobs ?? [])]) {
      if (d?.digest && isDigestLike(d.digest)) blobs.set(parseDigest(d.digest), Number(d.size) || 0);
    }
  }
  const missing = [];
  for (const digest of blobs.keys()) if ((await svc.store.stat(digest)) === undefined) missing.push(digest);
  let bytesFetched = 0;
  const queue = [...missing];
  const worker = async (): Promise<void> => {
    for (let digest = queue.shift(); digest; digest = queue.shift()) {
      const reply = await getBlob(svc, ctx(), { method: 'GET', digest });
      for await (const chunk of reply.body as Readable) bytesFetched += (chunk as Buffer).length;
    }
  };
  await Promise.all(Array.from({ length: Math.min(blobsAtOnce, queue.length) }, worker));
  return { blobsFetched: missing.length, bytesFetched, platforms: chosen };
}
