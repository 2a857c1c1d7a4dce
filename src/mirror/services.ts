// What the pull use cases share: the cache (index, blob store), the in-flight fills, access confirmations.
import type { BlobStore, CacheIndex } from '../cache/ports.js';
import type { ClusterFills } from '../cluster/cluster-fills.js';
import type { SharedCatalog } from '../catalog/shared-catalog.js';
import type { Fills } from './fills.js';
import type { RepositoryAccess } from './repository-access.js';

/** Turns caching off while the disk is full, and back on later (cache/disk-space.ts). */
export interface CachingSwitch {
  allowed(): boolean;
  suspend(reason: unknown): void;
  /** A blob was committed: the disk has room, and the cache may now be over its cap. */
  committed(): void;
}

export interface MirrorServices {
  index: CacheIndex;
  store: BlobStore;
  /** Manifests and tags other replicas stored (issue 8); a no-op with disk storage. */
  catalog: SharedCatalog;
  fills: Fills;
  access: RepositoryAccess;
  caching: CachingSwitch;
  clock: () => number;
  /** Several replicas: fills claimed in the bucket, followed across replicas (absent on one machine). */
  cluster?: ClusterFills;
  /** Under a low upstream quota, a moved tag is served from the cache (docs/watch.md). */
  quota?: { conserveLive(upstream: string): boolean };
}
