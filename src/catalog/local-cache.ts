// The cache: SQLite index, blobs (under the data directory or in an S3 bucket), temp files for fills, the
// disk-full gate, and eviction after fills (batched: at most one run at a time, low-water mark in the policy).
// Opened here, above cache/, because it joins the cache with the catalog shared through the bucket
// (docs/architecture-layers.md).
import { join } from 'node:path';
import type { Logger } from 'pino';
import type { Config } from '../config/config.js';
import { openBucket, openSharedCatalog, type Bucket } from './open-catalog.js';
import type { SharedCatalog } from './shared-catalog.js';
import { openDatabase, type CacheDatabase } from '../cache/db.js';
import { openBlobStore } from '../cache/blob-storage.js';
import { CachingGate } from '../cache/disk-space.js';
import { evict, type EvictionPolicy, type EvictionResult } from '../cache/eviction.js';
import { everyTurn, type EvictionTurn } from '../cache/eviction-turn.js';
import { parsePin } from '../cache/pins.js';
import type { BlobStore } from '../cache/ports.js';
import { SqliteCacheIndex } from '../cache/sqlite-cache-index.js';
import { DiskTempFiles } from '../cache/temp-files.js';
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

export interface OpenOptions {
  /**
   * Remove temp files left by an earlier process (the server at start). The CLI, which may run next to a live
   * server, must not: those files are that server's fills in progress.
   */
  cleanTemp?: boolean;
}

export async function openLocalCache(config: Config, log: Logger, clock: () => number, options: OpenOptions = {}): Promise<LocalCache> {
  const db: CacheDatabase = openDatabase(join(config.dataDir, 'pullgate.db'));
  const index = new SqliteCacheIndex(db, clock);
  const store = await openBlobStore(config, log);
  const bucket = await openBucket(config, log);
  const catalog = openSharedCatalog(bucket, { db, index, store, log, clock });
  const temp = new DiskTempFiles(config.dataDir);
  if (options.cleanTemp ?? true) {
    const removed = await temp.clean();
    if (removed) log.info({ removed }, 'removed partial fills left by an earlier process');
  }
  const gate = new CachingGate({ clock, log });
  const policy: EvictionPolicy = {
    maxBytes: config.cache.maxSize,
    lowWaterBytes: Math.floor(config.cache.maxSize * config.cache.lowWater),
    pins: config.cache.pins.map(parsePin),
  };
  const ping = db.prepare('SELECT 1');
  let running: Promise<EvictionResult | undefined> | undefined;
  let turn: EvictionTurn = everyTurn;
  return {
    db,
    index,
    store,
    temp,
    ...(bucket ? { bucket } : {}),
    catalog,
    gate,
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
