// Chooses where committed blobs live from `cache.storage`: the data directory (the default) or an S3-compatible
// bucket, checked before the mirror serves anyone so that a wrong bucket or key fails the start, not a pull.
import type { Logger } from 'pino';
import type { Config } from '../config/config.js';
import { DiskBlobStore } from './disk-blob-store.js';
import type { BlobStore } from './ports.js';
import { readCacheDir, ReadCacheBlobStore } from './read-cache-blob-store.js';
import { S3BlobStore } from './s3-blob-store.js';
import { createS3Client } from './s3-client.js';
import { DiskTempFiles } from './temp-files.js';

export async function openBlobStore(config: Config, log: Logger): Promise<BlobStore> {
  const storage = config.cache.storage;
  if (storage.type === 'disk') return new DiskBlobStore(config.dataDir);
  const client = createS3Client(storage, { connectMs: config.timeouts.connect, idleMs: config.timeouts.idle });
  const store = new S3BlobStore({
    client,
    bucket: storage.bucket,
    prefix: storage.prefix,
    multipartThreshold: storage.multipartThreshold,
    partSize: storage.partSize,
    log: log.child({ component: 'object-store' }),
  });
  await store.check();
  log.info({ endpoint: storage.endpoint ?? `aws:${storage.region}`, bucket: storage.bucket, prefix: storage.prefix }, 'blobs live in an S3 bucket');
  if (!storage.readCache) return store;
  const { maxSize } = storage.readCache;
  return ReadCacheBlobStore.open({
    inner: store,
    dir: readCacheDir(config.dataDir),
    temp: new DiskTempFiles(config.dataDir),
    maxBytes: maxSize,
    lowWaterBytes: Math.floor(maxSize * config.cache.lowWater),
    log: log.child({ component: 'read-cache' }),
  });
}
