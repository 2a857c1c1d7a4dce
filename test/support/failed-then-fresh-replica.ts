// The failed-then-fresh fill race (failed-then-fresh-fill.ts) on one replica whose fill leases live in a bucket:
// the replica's own cluster (leases, internal endpoint) around the race, in a temp directory removed afterwards.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import type { BlobStore } from '../../src/cache/ports.js';
import { DiskTempFiles } from '../../src/cache/temp-files.js';
import { createCluster } from '../../src/cluster/cluster.js';
import type { StorageConfig } from '../../src/config/storage.js';
import { failedThenFresh } from './failed-then-fresh-fill.js';
import { freePort } from './loopback-listener.js';

/** Runs the race on a replica of the bucket `storage`; asserts the fresh fill fetched within half of `headersMs`. */
export async function failedThenFreshOnReplica(storage: StorageConfig, headersMs: number): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'pullgate-self-lease-'));
  const store = { stat: async () => undefined } as unknown as BlobStore;
  const race = failedThenFresh(new DiskTempFiles(dir));
  const port = await freePort();
  const config = { listen: `127.0.0.1:${port}`, advertise: `http://127.0.0.1:${port}`, secret: 'x'.repeat(32), leaseTtlMs: 30_000 };
  const cluster = createCluster(config, storage, store, race.fills, { connect: 1000, headers: headersMs, idle: 10_000 }, pino({ level: 'silent' }));
  race.use(cluster.fills);
  try {
    await cluster.server.listen(config.listen);
    await race.check(headersMs);
  } finally {
    await cluster.close();
    await rm(dir, { recursive: true, force: true });
  }
}
