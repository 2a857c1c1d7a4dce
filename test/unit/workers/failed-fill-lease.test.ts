// A worker's fill that fails gives up its fill lease as it stops taking followers (src/mirror/fills.ts): a request
// that arrives while the failed fill cleans up starts a fresh fill, which must win the lease at once instead of
// finding the failed fill's lease held by its own worker and following itself over the internal endpoint (a wait
// of the whole headers timeout, longer than containerd waits for an answer).
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import pino from 'pino';
import type { BlobStore } from '../../../src/cache/ports.js';
import { DiskTempFiles } from '../../../src/cache/temp-files.js';
import type { Digest } from '../../../src/registry/digest.js';
import type { FillSource, InflightFill } from '../../../src/mirror/fills.js';
import { Fills } from '../../../src/mirror/fills.js';
import { createWorkerCluster, type WorkerCluster } from '../../../src/workers/worker-cluster.js';
import { TransientChunks } from '../../support/fake/transient-body.js';

const headersMs = 4000;

test("a request arriving while a worker's failed fill cleans up fetches at once, not after following its own worker", async () => {
  const dir = await mkdtemp(join(tmpdir(), 'pullgate-failed-lease-'));
  const temp = new DiskTempFiles(dir);
  const store = { stat: async () => undefined } as unknown as BlobStore;
  const bytes = randomBytes(2 * 1024 * 1024);
  const digest = `sha256:${createHash('sha256').update(bytes).digest('hex')}` as Digest;
  const corrupt = Buffer.from(bytes);
  corrupt[corrupt.length - 1]! ^= 1;
  const upstream: Buffer[] = [corrupt, bytes];
  const fromUpstream = async (): Promise<FillSource> => {
    const data = upstream.shift()!;
    return { size: data.length, body: new TransientChunks(data), commit: async () => undefined };
  };
  let cluster: WorkerCluster | undefined;
  let fresh: { entry: InflightFill; at: number } | undefined;
  const open = () => cluster!.fills.open(digest, { upstream: 'hub', repository: 'library/alpine' }, fromUpstream, async () => undefined);
  // Told as the fill fails, before it has cleaned up: a request arriving now.
  const fills: Fills = new Fills(() => temp.create(), 10_000, () => {
    fresh ??= { entry: fills.start(digest, open), at: Date.now() };
  });
  cluster = await createWorkerCluster({ slot: 0, lead: true, workers: 1, secret: 'machine-secret', leaseTtlMs: 30_000 }, dir, store, fills, { connect: 1000, headers: headersMs, idle: 10_000 }, pino({ level: 'silent' }));
  try {
    const failing = await fills.start(digest, open).fill;
    await failing.finished;
    assert.equal(failing.state, 'failed');
    assert.ok(fresh, 'a fresh fill was started');
    const good = await fresh.entry.fill;
    const waited = Date.now() - fresh.at;
    assert.ok(waited < headersMs / 2, `the fresh fill had its bytes' source after ${waited} ms`);
    await good.finished;
    assert.equal(good.state, 'done', String(good.error));
    assert.equal(upstream.length, 0, 'the fresh fill fetched from upstream');
  } finally {
    await cluster.close();
    await rm(dir, { recursive: true, force: true });
  }
});
