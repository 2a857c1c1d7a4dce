// The cache as the rest of the mirror sees it: SQLite index, blobs (under the data directory or in an S3 bucket),
// temp files for fills, the disk-full gate, and eviction after fills (batched: at most one run at a time, low-water
// mark in the policy). The parts are opened by the composition root (src/app/cache.ts), for the server and the CLI.
import type { Logger } from 'pino';
import type { Bucket } from './open-catalog.js';
import type { SharedCatalog } from './shared-catalog.js';
import type { CacheDatabase } from '../cache/db.js';
import type { CachingGate } from '../cache/disk-space.js';
import { evict, type EvictionPolicy, type EvictionResult } from '../cache/eviction.js';
import { everyTurn, type EvictionTurn } from '../cache/eviction-turn.js';
import type { BlobStore } from '../cache/ports.js';
import type { SqliteCacheIndex } from '../cache/sqlite-cache-index.js';
import type { DiskTempFiles } from '../cache/temp-files.js';
import { verifyCache, type VerifyReport } from '../cache/verify.js';

export interface LocalCache {
  /** The database the index lives in; the admin keeps its own tables there too. */
  db: CacheDatabase;
  index: SqliteCacheIndex;
  /** Committed blobs: the data directory or an S3 bucket (`cache.storage`). */
  store: BlobStore;
  temp: DiskTempFiles;
  /** With `cache.storage: s3`, the bucket (catalog objects, heartbeats); undefined on disk. */
  bucket?: Bucket;
  /** Manifests and tags shared through the bucket; a no-op with disk storage. */
  catalog: SharedCatalog;
  gate: CachingGate;
  policy: EvictionPolicy;
  /** Runs eviction if the cache is over its cap; concurrent calls share one run. */
  evict(): Promise<EvictionResult | undefined>;
  /** Decides whether this replica evicts now (the cluster claims a lease); the default always runs. */
  setEvictionTurn(turn: EvictionTurn): void;
  verify(): Promise<VerifyReport>;
  /** A trivial query: throws when the database cannot answer (readiness). */
  ping(): void;
  close(): void;
}

/** The parts the composition root opened (src/app/cache.ts), put together behind one face. */
export type LocalCacheParts = Pick<LocalCache, 'db' | 'index' | 'store' | 'temp' | 'bucket' | 'catalog' | 'gate' | 'policy'> & { log: Logger };

export function localCache(parts: LocalCacheParts): LocalCache {
  const { db, index, store, bucket, catalog, policy, log } = parts;
  const ping = db.prepare('SELECT 1');
  let running: Promise<EvictionResult | undefined> | undefined;
  let turn: EvictionTurn = everyTurn;
  return {
    db,
    index,
    store,
    temp: parts.temp,
    ...(bucket ? { bucket } : {}),
    catalog,
    gate: parts.gate,
    policy,
    async evict() {
      const totals = index.totals();
      if (!running && totals.blobBytes + totals.manifestBytes <= policy.maxBytes) return undefined;
      running ??= turn(() => catalog.removing(() => evict(index, store, policy, log))).finally(() => {
        running = undefined;
      });
      return running;
    },
    setEvictionTurn(next) {
      turn = next;
    },
    verify: () => verifyCache(store, index, log),
    ping: () => void ping.get(),
    close() {
      bucket?.objects.close();
      index.close();
      db.close();
    },
  };
}
