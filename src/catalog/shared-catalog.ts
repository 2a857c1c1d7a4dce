// What the mirror asks of the cluster's shared catalog (docs/storage.md, "The shared catalog"): manifests and tags kept
// in the bucket next to the blobs, so that what any replica fetched every replica serves, by tag too, with the upstream
// down. The local SQLite index stays the one the mirror reads; this catalog writes what the replica learns to the
// bucket and records what it finds there in the local index. With disk storage there is nothing shared: `localOnly`
// does nothing and makes no call, so the default path is unchanged.
import type { Digest } from '../registry/digest.js';

export interface CatalogManifest {
  digest: Digest;
  mediaType: string;
  bytes: Buffer;
}

export interface SharedCatalog {
  /** false for disk storage: every method below is a no-op. */
  readonly shared: boolean;
  /**
   * A manifest another replica stored, recorded in the local index (with its references, unlinked) when found and
   * its bytes match the digest; undefined when the bucket has none.
   */
  adoptManifest(digest: Digest): Promise<CatalogManifest | undefined>;
  /**
   * Looks up a tag in the bucket; when the bucket knows it (validated later than the local index, or the local index
   * does not know it) and holds its manifest, records tag, manifest (and the child manifests the bucket holds) locally
   * and links the tagged manifest, which the tag's validation confirmed, under the repository; what the manifest
   * references is linked only by a confirmation of its own (adoptLink). Returns whether the local tag changed.
   */
  adoptTag(upstream: string, repository: string, tag: string): Promise<boolean>;
  /** Records locally every tag of one repository the bucket holds (linking the manifest each names, nothing more). */
  adoptRepository(upstream: string, repository: string): Promise<void>;
  /**
   * The upstream confirmed here that `repository` holds `digest` (served verified bytes, or answered a HEAD of it):
   * written to the bucket in the background, so that every replica may serve it there without asking again.
   */
  linkConfirmed(kind: 'blob' | 'manifest', digest: Digest, upstream: string, repository: string): void;
  /** Whether some replica recorded that confirmation in the bucket; recorded locally (linked) when it did. */
  adoptLink(kind: 'blob' | 'manifest', digest: Digest, upstream: string, repository: string): Promise<boolean>;
  /** A manifest this replica fetched and verified: written to the bucket in the background. */
  manifestStored(m: CatalogManifest): void;
  /**
   * The upstream confirmed tag -> digest at `validatedAt`: written to the bucket in the background, after the
   * manifest's own write, unless the bucket already says the same from less than half of `ttlMs` ago.
   */
  tagValidated(upstream: string, repository: string, tag: string, digest: Digest, validatedAt: number, ttlMs: number): void;
  /** Imports the bucket's catalog and blob list into the local index: new objects added, objects gone removed. */
  sync(): Promise<void>;
  /** sync() unless one finished within the last few seconds (the admin's cache views call this). */
  refresh(): Promise<void>;
  /**
   * Runs an eviction or a purge between a fresh import (so that it sees what every replica stored) and the deletion
   * from the bucket of what it removed, with no import in between.
   */
  removing<T>(run: () => Promise<T>): Promise<T>;
  /** Deletes from the bucket the manifests and tags that purge or eviction removed from the local index. */
  propagateRemovals(): Promise<void>;
  /** Resolves when every background write started so far has finished (tests, shutdown). */
  settled(): Promise<void>;
  close(): Promise<void>;
}

/** Disk storage: nothing is shared, nothing is called. */
export const localOnly: SharedCatalog = {
  shared: false,
  adoptManifest: async () => undefined,
  adoptTag: async () => false,
  adoptRepository: async () => undefined,
  linkConfirmed: () => undefined,
  adoptLink: async () => false,
  manifestStored: () => undefined,
  tagValidated: () => undefined,
  sync: async () => undefined,
  refresh: async () => undefined,
  removing: (run) => run(),
  propagateRemovals: async () => undefined,
  settled: async () => undefined,
  close: async () => undefined,
};
