// Chooses where committed blobs live from `cache.storage`: the data directory (the default) or an S3-compatible
// bucket, checked before the mirror serves anyone so that a wrong bucket or key fails the start, not a pull.
// The S3 modules (the AWS SDK: tens of MB of RSS) load only when a bucket is configured.
import type { Config } from '../config/config.js';
import { DiskBlobStore } from './disk-blob-store.js';
import type { BlobStore, ComponentLogs } from './ports.js';

export async function openBlobStore(config: Config, logs: ComponentLogs): Promise<BlobStore> {
  const storage = config.cache.storage;
  if (storage.type === 'disk') return new DiskBlobStore(config.dataDir);
  const { openS3BlobStore } = await import('./s3-blob-storage.js');
  return openS3BlobStore(config, storage, logs);
}
