// A replica's fill that fails gives up its fill lease in the bucket as it stops taking followers, but the release is a
// round trip to the bucket (src/cluster/leases.ts): a request arriving meanwhile starts a fresh fill that finds the
// lease still held by this very process. It must not follow itself over the internal endpoint (its fresh fill would
// wait on that same call until the headers timeout, longer than containerd waits for an answer): it waits for its
// own release and takes the lease. The store is a real S3 server over HTTP whose deletes are slowed (fault injection).
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import pino from 'pino';
import type { BlobStore } from '../../../src/cache/ports.js';
import { DiskTempFiles } from '../../../src/cache/temp-files.js';
import { createCluster } from '../../../src/cluster/cluster.js';
import type { StorageConfig } from '../../../src/config/storage.js';
import type { FillSource, InflightFill } from '../../../src/mirror/fills.js';
import { Fills } from '../../../src/mirror/fills.js';
import type { Digest } from '../../../src/registry/digest.js';
import { TransientChunks } from '../../support/fake/transient-body.js';
import { freePort } from '../../support/loopback-listener.js';
import { startSlowObjectStore } from '../../support/slow-object-store.js';

const headersMs = 3000;

test("a request arriving while a replica's failed fill releases its bucket lease fetches at once, not after following itself", async () => {
  const dir = await mkdtemp(join(tmpdir(), 'pullgate-self-lease-'));
  const s3 = await startSlowObjectStore();
  s3.deleteDelayMs = 300;
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
  let fresh: { entry: InflightFill; at: number } | undefined;
  const open = () => cluster.fills.open(digest, { upstream: 'hub', repository: 'library/alpine' }, fromUpstream, async () => undefined);
  // Told as the fill fails, before it has cleaned up: a request arriving now.
  const fills: Fills = new Fills(() => temp.create(), 10_000, () => {
    fresh ??= { entry: fills.start(digest, open), at: Date.now() };
  });
  const port = await freePort();
  const storage = { type: 's3', endpoint: s3.url, region: 'us-east-1', bucket: 'pullgate', prefix: '', forcePathStyle: true, accessKeyId: 'test', secretAccessKey: 'test-secret' } as StorageConfig;
  const config = { listen: `127.0.0.1:${port}`, advertise: `http://127.0.0.1:${port}`, secret: 'x'.repeat(32), leaseTtlMs: 30_000 };
  const cluster = createCluster(config, storage, store, fills, { connect: 1000, headers: headersMs, idle: 10_000 }, pino({ level: 'silent' }));
  await cluster.server.listen(config.listen);
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
    await s3.close();
    await rm(dir, { recursive: true, force: true });
  }
});
