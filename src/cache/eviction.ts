// Eviction by size cap (docs/architecture.md, "Decision: SQLite is the index, the blob store holds the content"): when
// blobs + manifests exceed maxBytes, remove whole images and stray blobs, least recently used first, until the total is
// at or under lowWaterBytes (so eviction runs in batches, not on every fill). Each victim is removed as a purge by
// digest (retention.ts): the image's manifest, its child manifests and the blobs only they reference, so a blob that a
// kept manifest references is never removed and no kept manifest loses a blob. Pinned images and blobs are skipped.
import type { Logger } from 'pino';
import type { Digest } from '../registry/digest.js';
import { matchesPin, type Pin } from './pins.js';
import type { BlobStore, CacheIndex, EvictionCandidate, PurgeResult } from './ports.js';

export interface EvictionPolicy {
  maxBytes: number;
  /** Where a run stops; at most maxBytes (a larger value is read as maxBytes). */
  lowWaterBytes: number;
  pins: Pin[];
  /** Image digests kept whatever their age: the last digests of watched tags (docs/watch.md). */
  retained?: () => ReadonlySet<string>;
}

export interface EvictionPlan {
  /** Blobs + manifests stored when the plan was made. */
  totalBytes: number;
  /** The total a run brings the cache down to. */
  targetBytes: number;
  /** Unpinned candidates, least recently used first; empty while the total is within maxBytes. */
  candidates: EvictionCandidate[];
  /** Candidates skipped because a pin covers them or a watch list retains them. */
  pinned: number;
}

export interface EvictionResult extends PurgeResult {
  /** Images and stray blobs evicted (each counted once, whatever it took along). */
  victims: number;
  totalBefore: number;
  totalAfter: number;
  /** Blob files that could not be removed (left for `cache verify`, which removes files without a row). */
  fileErrors: number;
}

export type EvictionLog = Pick<Logger, 'info' | 'warn'>;

export function isPinned(candidate: EvictionCandidate, pins: readonly Pin[]): boolean {
  return pins.some(
    (pin) =>
      candidate.tags.some((t) => matchesPin(pin, t)) ||
      candidate.repositories.some((r) => matchesPin(pin, { upstream: r.upstream, repository: r.repository })),
  );
}

export function planEviction(index: CacheIndex, policy: EvictionPolicy): EvictionPlan {
  const totals = index.totals();
  const totalBytes = totals.blobBytes + totals.manifestBytes;
  const targetBytes = Math.min(policy.lowWaterBytes, policy.maxBytes);
  if (totalBytes <= policy.maxBytes) return { totalBytes, targetBytes, candidates: [], pinned: 0 };
  const all = index.evictionCandidates();
  const retained = policy.retained?.() ?? new Set<string>();
  const candidates = all.filter((c) => !isPinned(c, policy.pins) && !retained.has(c.digest));
  return { totalBytes, targetBytes, candidates, pinned: all.length - candidates.length };
}

/** Runs a plan: purges victims from the index, then removes the files of the blobs that went. */
export async function evict(
  index: CacheIndex,
  store: BlobStore,
  policy: EvictionPolicy,
  log?: EvictionLog,
): Promise<EvictionResult> {
  const plan = planEviction(index, policy);
  const result: EvictionResult = {
    manifests: 0,
    blobs: 0,
    tags: 0,
    bytes: 0,
    removedBlobs: [],
    victims: 0,
    totalBefore: plan.totalBytes,
    totalAfter: plan.totalBytes,
    fileErrors: 0,
  };
  for (const candidate of plan.candidates) {
    if (result.totalAfter <= plan.targetBytes) break;
    const purged = index.purge({ digest: candidate.digest });
    if (purged.manifests + purged.blobs === 0) continue;
    result.victims += 1;
    result.manifests += purged.manifests;
    result.blobs += purged.blobs;
    result.tags += purged.tags;
    result.bytes += purged.bytes;
    result.totalAfter -= purged.bytes;
    result.removedBlobs.push(...purged.removedBlobs);
    // Files go after the rows, one victim at a time, so the server keeps serving between them.
    result.fileErrors += await removeFiles(index, store, purged.removedBlobs, log);
  }
  if (result.victims > 0) {
    log?.info(
      { victims: result.victims, manifests: result.manifests, blobs: result.blobs, bytes: result.bytes,
        totalBefore: result.totalBefore, totalAfter: result.totalAfter },
      'cache eviction',
    );
  }
  if (result.totalAfter > policy.maxBytes) {
    log?.warn(
      { totalBytes: result.totalAfter, maxBytes: policy.maxBytes, pinned: plan.pinned },
      'cache is over its size cap and nothing more can be evicted (pinned or in use)',
    );
  }
  return result;
}

async function removeFiles(index: CacheIndex, store: BlobStore, digests: Digest[], log?: EvictionLog): Promise<number> {
  let errors = 0;
  for (const digest of digests) {
    // A fill may have committed the same digest again since the purge: its row says the file is live again.
    if (index.blob(digest)) continue;
    try {
      await store.remove(digest);
    } catch (err) {
      errors += 1;
      log?.warn({ err, digest }, 'could not remove an evicted blob file');
    }
  }
  return errors;
}
