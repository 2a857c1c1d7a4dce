// A replica's fill that fails gives up its fill lease in the bucket (real radosgw) as it stops taking followers; the
// delete is a round trip, and a request arriving meanwhile starts a fresh fill that finds the lease still held by this
// very process. It must not follow itself over its internal endpoint (the fresh fill would wait on that same call
// until the headers timeout, longer than containerd waits for an answer): it waits for its own release and fetches.
// test/unit/cluster/failed-fill-bucket-lease.test.ts holds the window open with a slowed delete.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import pino from 'pino';
import type { BlobStore } from '../../src/cache/ports.js';
import { DiskTempFiles } from '../../src/cache/temp-files.js';
import { createCluster } from '../../src/cluster/cluster.js';
import type { StorageConfig } from '../../src/config/storage.js';
import { createBucket, type BucketSetup } from '../support/cluster-replicas.js';
import { failedThenFresh } from '../support/failed-then-fresh-fill.js';
import { assertInstalled } from '../support/installed-tools.js';
import { freePort } from '../support/loopback-listener.js';
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
  const dir = await mkdtemp(join(tmpdir(), 'pullgate-self-lease-'));
  const temp = new DiskTempFiles(dir);
  const store = { stat: async () => undefined } as unknown as BlobStore;
  const race = failedThenFresh(temp);
  const port = await freePort();
  const config = { listen: `127.0.0.1:${port}`, advertise: `http://127.0.0.1:${port}`, secret: 'x'.repeat(32), leaseTtlMs: 30_000 };
  const storage = bucket.storage as unknown as StorageConfig;
  const cluster = createCluster(config, storage, store, race.fills, { connect: 1000, headers: headersMs, idle: 10_000 }, pino({ level: 'silent' }));
  race.use(cluster.fills);
  await cluster.server.listen(config.listen);
  try {
    await race.check(headersMs);
  } finally {
    await cluster.close();
    await rm(dir, { recursive: true, force: true });
  }
});
