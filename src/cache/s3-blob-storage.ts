// Committed blobs in an S3-compatible bucket (`cache.storage: s3`), checked before the mirror serves anyone so that
// a wrong bucket or key fails the start, not a pull; optionally with a local read cache and signed redirects.
import type { S3Client } from '@aws-sdk/client-s3';
import type { Config } from '../config/config.js';
import { formatDuration } from '../config/duration.js';
import type { BlobStore, ComponentLogs } from './ports.js';
import { readCacheDir, ReadCacheBlobStore } from './read-cache-blob-store.js';
import { S3BlobStore } from './s3-blob-store.js';
import { S3BlobRedirects } from './s3-blob-redirects.js';
import { createS3Client, type S3ClientTimeouts, type S3StorageConfig } from './s3-client.js';
import { DiskTempFiles } from './temp-files.js';

export async function openS3BlobStore(config: Config, storage: S3StorageConfig, logs: ComponentLogs): Promise<BlobStore> {
  const timeouts = { connectMs: config.timeouts.connect, idleMs: config.timeouts.idle };
  const client = createS3Client(storage, timeouts);
  const store = new S3BlobStore({
    client,
    bucket: storage.bucket,
    prefix: storage.prefix,
    multipartThreshold: storage.multipartThreshold,
    partSize: storage.partSize,
    log: logs('object-store'),
    ...(storage.redirect ? { redirects: blobRedirects(storage, client, timeouts) } : {}),
  });
  await store.check();
  const redirect = storage.redirect ? { redirect: storage.redirectEndpoint ?? 'endpoint', redirectTtl: formatDuration(storage.redirectTtl) } : {};
  logs('cache').info({ endpoint: storage.endpoint ?? `aws:${storage.region}`, bucket: storage.bucket, prefix: storage.prefix, ...redirect }, 'blobs live in an S3 bucket');
  if (!storage.readCache) return store;
  const { maxSize } = storage.readCache;
  return ReadCacheBlobStore.open({
    inner: store,
    dir: readCacheDir(config.dataDir),
    temp: new DiskTempFiles(config.dataDir),
    maxBytes: maxSize,
    lowWaterBytes: Math.floor(maxSize * config.cache.lowWater),
    log: logs('read-cache'),
  });
}

/** URLs are signed for the host clients will send: `redirectEndpoint` when clients reach the store elsewhere. */
function blobRedirects(storage: S3StorageConfig, client: S3Client, timeouts: S3ClientTimeouts): S3BlobRedirects {
  const signer = storage.redirectEndpoint ? createS3Client({ ...storage, endpoint: storage.redirectEndpoint }, timeouts) : client;
  return new S3BlobRedirects({ client: signer, bucket: storage.bucket, ttlMs: storage.redirectTtl });
}
