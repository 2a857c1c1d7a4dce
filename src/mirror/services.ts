// What the pull use cases share: the cache (index, blob store), the in-flight fills, access confirmations.
import type { BlobStore, CacheIndex } from '../cache/ports.js';
import type { SharedCatalog } from '../catalog/shared-catalog.js';
import type { ClusterFillSource } from './cluster-fill-source.js';
import type { Fills } from './fills.js';
import type { RepositoryAccess } from './repository-access.js';
import type { SignatureGate } from './signature-gate.js';

/** Turns caching off while the disk is full, and back on later (cache/disk-space.ts). */
export interface CachingSwitch {
  allowed(): boolean;
  suspend(reason: unknown): void;
  /** A blob was committed: the disk has room, and the cache may now be over its cap. */
  committed(): void;
  /** Room for a fill of `bytes` (cache/disk-space.ts FillRoom): its release, or undefined when it does not fit. */
  reserve(bytes: number): (() => void) | undefined;
}

export interface MirrorServices {
  index: CacheIndex;
  store: BlobStore;
  /** Manifests and tags other replicas stored (docs/storage.md, "The shared catalog"); a no-op with disk storage. */
  catalog: SharedCatalog;
  fills: Fills;
  access: RepositoryAccess;
  caching: CachingSwitch;
  clock: () => number;
  /** Several replicas: fills claimed in the bucket, followed across replicas (absent on one machine). */
  cluster?: ClusterFillSource;
  /** Upstreams with a signature policy (docs/signatures.md); absent when none has one. */
  signatures?: SignatureGate;
  /** Under a low upstream quota, a moved tag is served from the cache (docs/watch.md). */
  quota?: { conserveLive(upstream: string): boolean };
}
