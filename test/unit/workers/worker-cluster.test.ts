// Two workers' clusters on one data directory (src/workers/worker-cluster.ts): eviction runs in one worker at a
// time (the other's turn is skipped while it runs, and comes once it is over), and each worker's internal endpoint
// listens on a loopback port of its own that refuses requests not signed with the machine's secret.
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import pino from 'pino';
import { request } from 'undici';
import type { BlobStore } from '../../../src/cache/ports.js';
import { DiskTempFiles } from '../../../src/cache/temp-files.js';
import type { Cluster } from '../../../src/cluster/cluster.js';
import { Fills } from '../../../src/mirror/fills.js';
import { createWorkerCluster } from '../../../src/workers/worker-cluster.js';

const log = pino({ level: 'silent' });
const timeouts = { connect: 1000, headers: 5000, idle: 5000 };

describe('worker clusters on one data directory', () => {
  let dir: string;
  let a: Cluster;
  let b: Cluster;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'pullgate-worker-cluster-'));
    const temp = new DiskTempFiles(dir);
    // Nothing here reads a stored blob: the store is never asked.
    const store = { stat: async () => undefined } as unknown as BlobStore;
    const make = (slot: number) =>
      createWorkerCluster({ slot, lead: slot === 0, workers: 2, secret: 'machine-secret', leaseTtlMs: 2000 }, dir, store, new Fills(() => temp.create(), 5000), timeouts, log);
    [a, b] = await Promise.all([make(0), make(1)]);
  });
  after(async () => {
    await a.close();
    await b.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('runs one eviction at a time across the workers', async () => {
    let release!: () => void;
    const first = a.evictionTurn(() => new Promise<string>((r) => (release = () => r('a ran'))));
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(await b.evictionTurn(async () => 'b ran'), undefined, 'skipped while the other worker evicts');
    release();
    assert.equal(await first, 'a ran');
    assert.equal(await b.evictionTurn(async () => 'b ran'), 'b ran', 'its turn once the other is over');
  });

  it('gives each worker an internal endpoint of its own on loopback, closed to unsigned requests', async () => {
    const ports = [a, b].map((c) => (c.server.server.address() as { address: string; port: number }));
    assert.notEqual(ports[0]!.port, ports[1]!.port);
    for (const p of ports) {
      assert.equal(p.address, '127.0.0.1');
      const res = await request(`http://127.0.0.1:${p.port}/fills/sha256:${'0'.repeat(64)}`);
      await res.body.dump();
      assert.equal(res.statusCode, 401);
    }
  });
});
