// A worker's fill that fails gives up its fill lease as it stops taking followers (src/mirror/fills.ts): a request
// that arrives while the failed fill cleans up starts a fresh fill, which must win the lease at once instead of
// finding the failed fill's lease held by its own worker and following itself over the internal endpoint (a wait
// of the whole headers timeout, longer than containerd waits for an answer).
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import pino from 'pino';
import type { BlobStore } from '../../../src/cache/ports.js';
import { DiskTempFiles } from '../../../src/cache/temp-files.js';
import { createWorkerCluster } from '../../../src/workers/worker-cluster.js';
import { failedThenFresh } from '../../support/failed-then-fresh-fill.js';

const headersMs = 4000;

test("a request arriving while a worker's failed fill cleans up fetches at once, not after following its own worker", async () => {
  const dir = await mkdtemp(join(tmpdir(), 'pullgate-failed-lease-'));
  const temp = new DiskTempFiles(dir);
  const store = { stat: async () => undefined } as unknown as BlobStore;
  const race = failedThenFresh(temp);
  const cluster = await createWorkerCluster({ slot: 0, lead: true, workers: 1, secret: 'machine-secret', leaseTtlMs: 30_000 }, dir, store, race.fills, { connect: 1000, headers: headersMs, idle: 10_000 }, pino({ level: 'silent' }));
  race.use(cluster.fills);
  try {
    await race.check(headersMs);
  } finally {
    await cluster.close();
    await rm(dir, { recursive: true, force: true });
  }
});
