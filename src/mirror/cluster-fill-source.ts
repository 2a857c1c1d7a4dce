// Where a fill's bytes come from when several replicas share a bucket (`cluster` in the config): the mirror asks
// this source instead of its upstream, and gets either its own upstream fetch (this replica holds the fill) or a
// stream of another replica's fill in progress. Implemented by cluster/cluster-fills.ts; the mirror depends on this
// interface only, so that it knows nothing of leases, peers or the bucket.
import type { Digest } from '../registry/digest.js';
import type { FillSource } from './fills.js';

/** The replica that holds a fill, as far as the mirror needs it: what the fill was fetched for. */
export interface FillHolder {
  /** Free-form facts about the fill (its upstream and repository). */
  about?: Record<string, string>;
}

export interface ClusterSource extends FillSource {
  /** The replica whose fill this one follows; absent when this replica fetches from upstream. */
  peer?: string;
  /** What the followed replica's fill was fetched for (its upstream and repository). */
  fetchedFor?: Record<string, string>;
}

export interface ClusterFillSource {
  /**
   * The bytes for this replica's fill of `digest`: `fromUpstream` when this replica is to fetch, else a stream
   * of the holder's fill. `mayFollow` checks that this request may have the blob before a holder's bytes are used.
   * Throws StoredMeanwhile when another replica committed the blob while this one waited.
   */
  open(
    digest: Digest,
    about: { upstream: string; repository: string },
    fromUpstream: () => Promise<FillSource>,
    mayFollow: (holder: FillHolder) => Promise<void>,
  ): Promise<ClusterSource>;
}

/** The blob was committed by another replica while this one waited: serve it from the store. */
export class StoredMeanwhile extends Error {
  readonly code = 'BLOB_STORED_MEANWHILE';
}

export const isStoredMeanwhile = (err: unknown): boolean => err instanceof StoredMeanwhile;
