// A replica's fill that fails gives up its fill lease in the bucket as it stops taking followers, but the release is a
// round trip to the bucket (src/cluster/leases.ts): a request arriving meanwhile starts a fresh fill that finds the
// lease still held by this very process. It must not follow itself over the internal endpoint (its fresh fill would
// wait on that same call until the headers timeout, longer than containerd waits for an answer): it waits for its
// own release and takes the lease. The store is a real S3 server over HTTP whose deletes are slowed (fault injection).
import { test } from 'node:test';
import type { StorageConfig } from '../../../src/config/storage.js';
import { failedThenFreshOnReplica } from '../../support/failed-then-fresh-replica.js';
import { startSlowObjectStore } from '../../support/slow-object-store.js';

const headersMs = 3000;

test("a request arriving while a replica's failed fill releases its bucket lease fetches at once, not after following itself", async () => {
  const s3 = await startSlowObjectStore();
  s3.deleteDelayMs = 300;
  const storage = { type: 's3', endpoint: s3.url, region: 'us-east-1', bucket: 'pullgate', prefix: '', forcePathStyle: true, accessKeyId: 'test', secretAccessKey: 'test-secret' } as StorageConfig;
  try {
    await failedThenFreshOnReplica(storage, headersMs);
  } finally {
    await s3.close();
  }
});
