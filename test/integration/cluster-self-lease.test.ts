// A replica's fill that fails gives up its fill lease in the bucket (real radosgw) as it stops taking followers; the
// delete is a round trip, and a request arriving meanwhile starts a fresh fill that finds the lease still held by this
// very process. It must not follow itself over its internal endpoint (the fresh fill would wait on that same call
// until the headers timeout, longer than containerd waits for an answer): it waits for its own release and fetches.
// test/unit/cluster/failed-fill-bucket-lease.test.ts holds the window open with a slowed delete.
import { after, before, test } from 'node:test';
import type { StorageConfig } from '../../src/config/storage.js';
import { createBucket, type BucketSetup } from '../support/cluster-replicas.js';
import { failedThenFreshOnReplica } from '../support/failed-then-fresh-replica.js';
import { assertInstalled } from '../support/installed-tools.js';
import { radosgwPrograms, startRadosgw, type Radosgw } from '../support/radosgw.js';

const headersMs = 3000;
let rgw: Radosgw;
let bucket: BucketSetup;

before(async () => {
  await assertInstalled(...radosgwPrograms);
  rgw = await startRadosgw();
  bucket = await createBucket(rgw, 'pullgate-self-lease');
}, { timeout: 120_000 });
after(() => rgw?.stop());

test("a request arriving while a replica's failed fill deletes its lease from the bucket fetches at once, not after following itself", { timeout: 60_000 }, async () => {
  await failedThenFreshOnReplica(bucket.storage as unknown as StorageConfig, headersMs);
});
