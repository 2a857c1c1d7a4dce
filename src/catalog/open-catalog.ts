// Chooses the shared catalog from `cache.storage`: none for disk (no S3 call on the default path), the bucket's for s3.
// The S3 modules (the AWS SDK) load only then.
import type { Logger } from 'pino';
import type { Config } from '../config/config.js';
import { CatalogRows } from '../cache/catalog-rows.js';
import type { CacheDatabase } from '../cache/db.js';
import type { BlobStore, CacheIndex } from '../cache/ports.js';
import type { BucketObjects } from './bucket-objects.js';
import { CatalogKeys } from './catalog-keys.js';
import { replicaId } from './replica-id.js';
import { S3Catalog } from './s3-catalog.js';
import { localOnly, type SharedCatalog } from './shared-catalog.js';

export interface Bucket {
  objects: BucketObjects;
  keys: CatalogKeys;
  replica: string;
}

/** The bucket's object access for the catalog and the heartbeats (logging to `log`, the object store's); undefined with disk storage. */
export async function openBucket(config: Config, log: Logger): Promise<Bucket | undefined> {
  const storage = config.cache.storage;
  if (storage.type !== 's3') return undefined;
  const [{ createS3Client }, { BucketObjects }] = await Promise.all([import('../cache/s3-client.js'), import('./bucket-objects.js')]);
  const client = createS3Client(storage, { connectMs: config.timeouts.connect, idleMs: config.timeouts.idle });
  return {
    objects: new BucketObjects(client, storage.bucket, log),
    keys: new CatalogKeys(storage.prefix),
    replica: await replicaId(config.dataDir),
  };
}

export function openSharedCatalog(
  bucket: Bucket | undefined,
  /** `log` is the catalog's own. */
  parts: { db: CacheDatabase; index: CacheIndex; store: BlobStore; log: Logger; clock: () => number },
): SharedCatalog {
  if (!bucket) return localOnly;
  return new S3Catalog({ ...bucket, rows: new CatalogRows(parts.db), index: parts.index, store: parts.store, log: parts.log, clock: parts.clock });
}
