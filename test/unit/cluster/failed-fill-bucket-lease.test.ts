// A replica's fill that fails gives up its fill lease in the bucket as it stops taking followers, but the release is a
// round trip to the bucket (src/cluster/leases.ts): a request arriving meanwhile starts a fresh fill that finds the
// lease still held by this very process. It must not follow itself over the internal endpoint (its fresh fill would
// wait on that same call until the headers timeout, longer than containerd waits for an answer): it waits for its
// own release and takes the lease. The store is a real S3 server over HTTP whose deletes are slowed (fault injection).
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import pino from 'pino';
import type { BlobStore } from '../../../src/cache/ports.js';
import { DiskTempFiles } from '../../../src/cache/temp-files.js';
import { createCluster } from '../../../src/cluster/cluster.js';
import type { StorageConfig } from '../../../src/config/storage.js';
import { failedThenFresh } from '../../support/failed-then-fresh-fill.js';
import { freePort } from '../../support/loopback-listener.js';
import { startSlowObjectStore } from '../../support/slow-object-store.js';

const headersMs = 3000;

test("a request arriving while a replica's failed fill releases its bucket lease fetches at once, not after following itself", async () => {
  const dir = await mkdtemp(join(tmpdir(), 'pullgate-self-lease-'));
  const s3 = await startSlowObjectStore();
  s3.deleteDelayMs = 300;
  const temp = new DiskTempFiles(dir);
  const store = { stat: async () => undefined } as unknown as BlobStore;
  const race = failedThenFresh(temp);
  const port = await freePort();
  const storage = { type: 's3', endpoint: s3.url, region: 'us-east-1', bucket: 'pullgate', prefix: '', forcePathStyle: true, accessKeyId: 'test', secretAccessKey: 'test-secret' } as StorageConfig;
  const config = { listen: `127.0.0.1:${port}`, advertise: `http://127.0.0.1:${port}`, secret: 'x'.repeat(32), leaseTtlMs: 30_000 };
  const cluster = createCluster(config, storage, store, race.fills, { connect: 1000, headers: headersMs, idle: 10_000 }, pino({ level: 'silent' }));
  race.use(cluster.fills);
  await cluster.server.listen(config.listen);
  try {
    await race.check(headersMs);
  } finally {
    await cluster.close();
    await s3.close();
    await rm(dir, { recursive: true, force: true });
  }
});
