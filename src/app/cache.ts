// The cache step, the one place the cache is put together (the server's and the CLI's `pullgate cache` commands):
// the SQLite database and index, the blob store (disk or S3, `cache.storage`), the bucket's shared catalog, temp
// files; then, for the server, blob fills in flight, the room they reserve, and pins (the file's and the admin's).
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { AdminPins } from '../admin/admin-pins.js';
import { openBlobStore } from '../cache/blob-storage.js';
import { openDatabase } from '../cache/db.js';
import { CachingGate, FillRoom } from '../cache/disk-space.js';
import type { EvictionPolicy } from '../cache/eviction.js';
import type { ComponentLogs } from '../cache/ports.js';
import { localCache, type LocalCache } from '../catalog/local-cache.js';
import { parsePin } from '../cache/pins.js';
import { SqliteCacheIndex } from '../cache/sqlite-cache-index.js';
import { DiskTempFiles } from '../cache/temp-files.js';
import { openBucket, openSharedCatalog } from '../catalog/open-catalog.js';
import type { Config } from '../config/config.js';
import { Fills } from '../mirror/fills.js';
import type { Base } from './base.js';

export interface OpenCacheOptions {
  /**
   * Remove temp files left by an earlier process (the server at start). The CLI, which may run next to a live
   * server, must not: those files are that server's fills in progress.
   */
  cleanTemp?: boolean;
}

/**
 * `logs` makes each component's logger (the cache's, the object store's, the catalog's): siblings, each naming its
 * component once (a pino child of a child would carry `component` twice).
 */
export async function openCache(config: Config, logs: ComponentLogs, clock: () => number, options: OpenCacheOptions = {}): Promise<LocalCache> {
  const log = logs('cache');
  const db = openDatabase(join(config.dataDir, 'pullgate.db'));
  const index = new SqliteCacheIndex(db, clock);
  const store = await openBlobStore(config, logs);
  const bucket = await openBucket(config, logs('object-store'));
  const catalog = openSharedCatalog(bucket, { db, index, store, log: logs('catalog'), clock });
  const temp = new DiskTempFiles(config.dataDir);
  if (options.cleanTemp ?? true) {
    const removed = await temp.clean();
    if (removed) log.info({ removed }, 'removed partial fills left by an earlier process');
  }
  const policy: EvictionPolicy = {
    maxBytes: config.cache.maxSize,
    lowWaterBytes: Math.floor(config.cache.maxSize * config.cache.lowWater),
    pins: config.cache.pins.map(parsePin),
  };
  const gate = new CachingGate({ clock, log });
  return localCache({ db, index, store, temp, ...(bucket ? { bucket } : {}), catalog, gate, policy, log });
}

export interface CacheWiring {
  local: LocalCache;
  /** Blob fills in flight, shared by every request for the same blob. */
  fills: Fills;
  /** Space reserved by fills in progress against `cache.maxSize`. */
  fillRoom: FillRoom;
  /** The file's pins and the admin's, kept on the eviction policy. */
  pins: AdminPins;
}

export async function wireCache(base: Base): Promise<CacheWiring> {
  const { clock } = base;
  const config = base.config();
  // A worker's siblings have fills in progress: the supervisor cleaned the temp files before they started.
  const local = await openCache(config, (component) => base.child(component), clock, { cleanTemp: !base.worker });
  await mkdir(local.temp.dir, { recursive: true });
  // A bucket's commit is an upload: clients get the verified bytes without waiting for it.
  const fills = new Fills(
    () => local.temp.create(),
    config.cache.fillIdleTimeout,
    (err) => {
      if (!local.gate.failed(err)) base.log.warn({ err }, 'blob fill failed');
    },
    config.cache.storage.type === 's3',
  );
  const pins = new AdminPins(local.db, config.cache.pins, (all) => {
    local.policy.pins = all;
  }, clock);
  local.policy.pins = pins.parsed();
  return { local, fills, fillRoom: new FillRoom(() => base.config().cache.maxSize), pins };
}
