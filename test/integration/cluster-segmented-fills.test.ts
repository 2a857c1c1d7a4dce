// Three replicas sharing one bucket (real radosgw) fill a cold blob segmented (docs/segmented-fills.md) while their
// disks lag: clients arrive over a few seconds, so late ones (and the replicas that follow the holder's fill over
// the internal endpoint) read the fill's temp file behind its in-memory window, where segments written ahead of the
// prefix have extended the file past holes. Every client must get the exact bytes. The lagging disk is fault
// injection (FileHandle writes delayed); the upstream is the fake one, its blobs redirected to its CDN host, which
// answers Range requests.
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { open, type FileHandle } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { after, before, describe, test } from 'node:test';
import { Agent, request } from 'undici';
import { createBucket, startReplicas, type Replicas } from '../support/cluster-replicas.js';
import { FakeUpstream } from '../support/fake/fake-upstream.js';
import { assertInstalled } from '../support/installed-tools.js';
import { radosgwPrograms, startRadosgw, type Radosgw } from '../support/radosgw.js';

const MiB = 1024 * 1024;
const slow = { timeout: 240_000 };

async function pulled(url: string, agent: Agent): Promise<{ status: number; digest: string; bytes: number }> {
  const res = await request(url, { dispatcher: agent });
  const hash = createHash('sha256');
  let bytes = 0;
  for await (const chunk of res.body) {
    hash.update(chunk as Buffer);
    bytes += (chunk as Buffer).length;
  }
  return { status: res.statusCode, digest: `sha256:${hash.digest('hex')}`, bytes };
}

describe('a segmented fill across replicas while the disks lag', () => {
  let rgw: Radosgw;
  let up: FakeUpstream;
  let cluster: Replicas;
  const agent = new Agent({ headersTimeout: 120_000, bodyTimeout: 120_000 });
  let proto: FileHandle;
  let write: FileHandle['write'];
  let writev: FileHandle['writev'];

  before(async () => {
    await assertInstalled(...radosgwPrograms);
    rgw = await startRadosgw();
    const bucket = await createBucket(rgw, 'pullgate-segmented');
    up = await new FakeUpstream().start();
    cluster = await startReplicas({
      replicas: 3,
      bucket,
      upstreams: [{ name: 'hub', registry: 'docker.io', url: up.url, default: true, segments: { connections: 4, size: '4MiB', threshold: '8MiB' } }],
    });
    // Every write to a file waits up to 300 ms: a disk far behind the upstream.
    const probe = await open(tmpdir(), 'r');
    proto = Object.getPrototypeOf(probe) as FileHandle;
    await probe.close();
    ({ write, writev } = proto);
    // A fill writes a batch of several chunks with one vectored write: both kinds lag.
    const lagging = (original: unknown) =>
      async function (this: FileHandle, ...args: unknown[]) {
        await new Promise((r) => setTimeout(r, Math.random() * 300));
        return (original as (...a: unknown[]) => Promise<unknown>).apply(this, args);
      };
    (proto as unknown as { write: unknown }).write = lagging(write);
    (proto as unknown as { writev: unknown }).writev = lagging(writev);
  }, slow);
  after(async () => {
    if (write) (proto as unknown as { write: unknown }).write = write;
    if (writev) (proto as unknown as { writev: unknown }).writev = writev;
    await agent.close();
    await cluster?.close();
    await up?.stop();
    await rgw?.stop();
  });

  test('16 clients arriving over three seconds, spread over the replicas, all get the exact bytes', slow, async () => {
    up.faults.redirectBlobs = 'absolute';
    up.faults.blobChunkDelayMs = 2;
    const blob = randomBytes(24 * MiB + 12_345);
    const digest = up.addBlob(blob);
    const results = await Promise.all(
      Array.from({ length: 16 }, async (_, i) => {
        await new Promise((r) => setTimeout(r, (i * 3000) / 16));
        // An aborted transfer is an answer too: every client's outcome is checked, not only the first to fail.
        return pulled(`${cluster.mirrors[i % 3]!.url}/v2/library/alpine/blobs/${digest}`, agent).catch((err: unknown) => ({ status: 0, digest: String(err), bytes: 0 }));
      }),
    );
    assert.deepEqual(results, results.map(() => ({ status: 200, digest, bytes: blob.length })));
    const ranged = up.requests.filter((r) => r.method === 'GET' && r.path.includes('/cdn/') && r.headers.range !== undefined);
    assert.ok(ranged.length >= 5, `the fill was segmented: ${ranged.length} Range requests`);
  });
});
