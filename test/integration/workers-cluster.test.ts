// Two replicas of a cluster, each serving with two workers (docs/workers.md, "Workers of a replica"), through the
// real CLI, sharing one bucket on a real S3 server (Ceph radosgw), in front of a real registry whose blobs come from a
// paced CDN: cold clients spread over all four processes make one upstream fetch and get the exact bytes; another
// replica's requests to a worker that does not hold the fill get the holder's stream; a signed request is accepted
// once by the replica, not once per worker; the worker holding a fill killed mid-fill leaves nothing partial and
// its lease is taken over; SIGTERM stops every worker of a replica cleanly and a restart serves from the bucket.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { GetObjectCommand, ListMultipartUploadsCommand } from '@aws-sdk/client-s3';
import { request } from 'undici';
import { PeerAuth, peerAuthHeader } from '../../src/cluster/peer-auth.js';
import { AdminClient } from '../support/admin-client.js';
import { createBucket, type BucketSetup } from '../support/cluster-replicas.js';
import { assertInstalled } from '../support/installed-tools.js';
import { writeLargeBlob } from '../support/large-blob.js';
import { freePort } from '../support/loopback-listener.js';
import { radosgwPrograms, startRadosgw, type Radosgw } from '../support/radosgw.js';
import { startRealRegistry, type RealRegistry } from '../support/real-registry.js';
import { pullOnOwnConnection as pull } from '../support/separate-pull.js';
import { until } from '../support/until.js';
import { isAlive, spawnWorkers, type WorkersProcess } from '../support/workers-process.js';

const slow = { timeout: 180_000 };
/** Three processes per replica start under tsx, on a machine that may be busy. */
const starting = { timeout: 360_000 };
const size = 6 << 20;
const adminPassword = 'workers-cluster-admin-password';

interface Replica {
  dir: string;
  advertise: string;
  config: Record<string, unknown>;
  server: WorkersProcess;
}

describe('two replicas of two workers each on one radosgw bucket', () => {
  let rgw: Radosgw;
  let bucket: BucketSetup;
  let reg: RealRegistry;
  let work: string;
  const replicas: Replica[] = [];
  const secret = randomBytes(32).toString('hex');

  const blobKey = (digest: string) => `${bucket.prefix}blobs/sha256/${digest.slice(7, 9)}/${digest.slice(7)}`;
  const leaseKey = (digest: string) => `${bucket.prefix}leases/fills/sha256/${digest.slice(7)}`;
  const cdnGets = (digest: string) => reg.cdn.requests.filter((r) => r.method === 'GET' && r.path.includes(digest.slice(7)));
  const filling = (digest: string) => () => cdnGets(digest).some((r) => !r.completed);
  const requestLines = (r: Replica, digest: string) => r.server.lines().filter((l) => l.msg === 'request' && String(l.url).includes(digest) && l.status === 200);
  const bucketLease = async (digest: string) => {
    const res = await bucket.s3.send(new GetObjectCommand({ Bucket: bucket.bucket, Key: leaseKey(digest) }));
    return JSON.parse(await res.Body!.transformToString()) as { owner: string; replica: string; expiresAt: number };
  };

  async function startReplica(i: number): Promise<Replica> {
    const port = await freePort();
    const dir = await mkdtemp(join(work, `replica-${i}-`));
    const advertise = `http://127.0.0.1:${port}`;
    const config = {
      workers: 2,
      log: { level: 'debug' },
      listen: { http: '127.0.0.1:0', admin: '127.0.0.1:0' },
      upstreams: [{ name: 'hub', registry: 'docker.io', url: reg.url, ca: reg.caFile, default: true }],
      cache: { storage: bucket.storage },
      cluster: { listen: `127.0.0.1:${port}`, advertise, secret, leaseTtl: '3s' },
    };
    const server = await spawnWorkers(dir, config, { PULLGATE_ADMIN_PASSWORD: adminPassword });
    return { dir, advertise, config, server };
  }

  before(async () => {
    await assertInstalled(...radosgwPrograms, 'docker-registry');
    work = await mkdtemp(join(tmpdir(), 'pullgate-workers-cluster-'));
    rgw = await startRadosgw();
    bucket = await createBucket(rgw, 'pullgate-workers-cluster');
    reg = await startRealRegistry({ auth: false, cdnBytesPerSecond: 3 << 20 });
    for (let i = 0; i < 2; i++) replicas.push(await startReplica(i));
  }, starting);

  after(async () => {
    await Promise.all(replicas.map((r) => r.server.stop('SIGKILL')));
    await reg?.stop().catch(() => undefined);
    await rgw?.stop();
    if (work) await rm(work, { recursive: true, force: true });
  });

  test('16 cold clients spread over the four workers of two replicas: one upstream fetch, every stream byte-exact and live', slow, async () => {
    const blob = await writeLargeBlob(reg, 'team/shared', size, 'workers-cluster-one-fetch');
    const path = `/v2/team/shared/blobs/${blob.digest}`;
    const pulls = await Promise.all(Array.from({ length: 16 }, (_, i) => pull(replicas[i % 2]!.server.url, path, filling(blob.digest))));
    for (const p of pulls) {
      assert.equal(p.status, 200, p.error);
      assert.equal(p.sha256, blob.digest, `byte-exact (${p.bytes} bytes, ${p.error ?? 'ended'})`);
      assert.ok(p.firstByteWhileFilling, 'the client got bytes while the upstream transfer was still running');
    }
    assert.equal(cdnGets(blob.digest).length, 1, 'exactly one upstream fetch for the two replicas and their four workers');
    // Access lines come through the workers' stdout pipes, each at its own pace.
    const served = () => replicas.flatMap((r) => requestLines(r, blob.digest));
    await until(async () => (served().length >= 16 ? true : undefined), 5000, 20);
    const pids = new Set(served().map((l) => l.pid));
    assert.equal(pids.size, 4, `every worker of both replicas served clients (${[...pids].join(', ')})`);
    assert.ok(served().filter((l) => l.cache === 'PEER').length >= 3, 'the workers that did not fetch followed the fill');
    const keys = await until(async () => {
      const all = await bucket.keys();
      return all.some((k) => k.key === blobKey(blob.digest)) && !all.some((k) => k.key === leaseKey(blob.digest)) ? all : undefined;
    });
    assert.equal(keys.find((k) => k.key === blobKey(blob.digest))?.size, size, 'committed whole, once');
  });

  test('the admin shows each replica once, with its workers summed in its metrics', slow, async () => {
    const [one] = replicas;
    assert.ok(one?.server.admin);
    const admin = new AdminClient(one.server.admin);
    assert.equal((await admin.login(adminPassword)).status, 200);
    const view = await admin.call<{ replicas: Array<{ address: string }> }>('GET', '/api/cluster');
    assert.equal(view.status, 200);
    assert.deepEqual(view.body.replicas.map((r) => r.address).sort(), replicas.map((r) => r.advertise).sort(), 'one heartbeat per replica, not per worker');
    const text = await (await request(`${one.server.admin}/metrics`)).body.text();
    const servedBytes = text.split('\n').filter((l) => l.startsWith('pullgate_served_bytes_total{')).reduce((sum, l) => sum + Number(l.split(' ').pop()), 0);
    assert.equal(servedBytes, 8 * size, "the bytes both of this replica's workers served to its 8 clients");
  });

  test("another replica's requests to a worker that does not hold the fill get the holder's stream", slow, async () => {
    const [one] = replicas;
    assert.ok(one);
    const blob = await writeLargeBlob(reg, 'team/relay', size, 'workers-cluster-relay');
    // One client: one worker of the replica holds the fill, the other has none.
    const client = pull(one.server.url, `/v2/team/relay/blobs/${blob.digest}`, filling(blob.digest));
    await until(async () => (cdnGets(blob.digest).some((r) => r.bytesSent > 0) ? true : undefined), 10_000, 20);
    const signer = new PeerAuth(secret, 'http://peer.invalid');
    const path = `/fills/${blob.digest}`;
    const peers = await Promise.all(Array.from({ length: 4 }, () => pull(one.advertise, path, filling(blob.digest), { [peerAuthHeader]: signer.sign('GET', path, one.advertise) })));
    for (const p of peers) {
      assert.equal(p.status, 200, p.error);
      assert.equal(p.sha256, blob.digest, 'the exact bytes of the fill');
    }
    assert.equal((await client).sha256, blob.digest);
    assert.equal(cdnGets(blob.digest).length, 1);
    assert.ok(one.server.lines().some((l) => l.msg === "passing on another worker's fill to a replica"), "a worker passed on its sibling's fill");
  });

  test('a signed request is accepted once by the replica, not once per worker', slow, async () => {
    const [one] = replicas;
    assert.ok(one);
    const path = `/fills/sha256:${'0'.repeat(64)}`;
    const header = new PeerAuth(secret, 'http://peer.invalid').sign('GET', path, one.advertise);
    const statuses: number[] = [];
    // A connection each: node:cluster hands them to both workers in turn.
    for (let i = 0; i < 4; i++) {
      const res = await request(`${one.advertise}${path}`, { headers: { [peerAuthHeader]: header }, reset: true });
      await res.body.dump();
      statuses.push(res.statusCode);
    }
    assert.deepEqual(statuses, [404, 401, 401, 401], 'answered once (no such fill), then refused as a replay');
  });

  test('the worker holding a fill killed mid-fill: nothing partial is stored, and a later pull takes its lease over', slow, async () => {
    const big = 12 << 20;
    const blob = await writeLargeBlob(reg, 'team/killed', big, 'workers-cluster-killed');
    const hex = blob.digest.slice(7);
    const path = `/v2/team/killed/blobs/${blob.digest}`;
    const pulls = Promise.all(Array.from({ length: 8 }, (_, i) => pull(replicas[i % 2]!.server.url, path, () => true)));
    const lease = await until(async () => ((cdnGets(blob.digest)[0]?.bytesSent ?? 0) > big / 4 ? bucketLease(blob.digest) : undefined), 20_000, 20);
    const holder = replicas.find((r) => r.advertise === lease.owner);
    assert.ok(holder, 'a replica holds the fill lease in the bucket');
    const pid = holder.server.leaseHolder(`fills/sha256/${hex}`);
    assert.ok(pid !== undefined && holder.server.workerPids().includes(pid), 'one of its workers holds it on the machine');
    assert.match(lease.replica, /^127\.0\.0\.1:\d+\/worker-[01]$/, 'the bucket lease names the worker under the replica\'s address');
    process.kill(pid, 'SIGKILL');
    const outcomes = await pulls;
    assert.ok(outcomes.some((p) => p.error !== undefined || p.status !== 200), "the killed worker's clients saw their transfer fail");
    for (const p of outcomes) {
      if (p.error === undefined && p.status === 200 && p.bytes === big) assert.equal(p.sha256, blob.digest, 'a completed stream has the right bytes');
      else assert.ok(p.bytes < big || p.status !== 200, 'an interrupted stream is visibly short');
    }
    assert.equal((await bucket.keys()).find((k) => k.key === blobKey(blob.digest)), undefined, 'no object for the blob: nothing partial');
    const uploads = await bucket.s3.send(new ListMultipartUploadsCommand({ Bucket: bucket.bucket, Prefix: bucket.prefix }));
    assert.deepEqual(uploads.Uploads ?? [], [], 'no multipart upload left behind');
    await until(async () => (holder.server.lines().some((l) => l.msg === 'worker died; starting a replacement' && l.pid === pid) ? true : undefined), 10_000, 50);
    assert.deepEqual((await readdir(join(holder.dir, 'data', 'tmp'))).filter((n) => n.startsWith(`${pid}-`)), [], 'the killed worker left no temp file');

    // Through the other replica: its request to the holder's machine finds the holder gone, and it takes the lease over once it expired.
    const other = replicas.find((r) => r !== holder)!;
    const again = await pull(other.server.url, path, () => true);
    assert.equal(again.status, 200, again.error);
    assert.equal(again.sha256, blob.digest);
    assert.equal(cdnGets(blob.digest).filter((r) => r.range === undefined).length, 2, "the dead worker's fetch, then one takeover");
    await until(async () => ((await bucket.keys()).find((k) => k.key === blobKey(blob.digest))?.size === big ? true : undefined));
    const fetched = cdnGets(blob.digest).length;
    const fromBucket = await pull(holder.server.url, path, () => false);
    assert.equal(fromBucket.sha256, blob.digest);
    assert.equal(cdnGets(blob.digest).length, fetched, "the dead worker's replica serves it from the bucket");
  });

  test('SIGTERM stops every worker of both replicas cleanly; a restart serves from the bucket', slow, async () => {
    const pids = replicas.flatMap((r) => r.server.workerPids().filter(isAlive));
    const codes = await Promise.all(replicas.map((r) => r.server.stop('SIGTERM')));
    assert.deepEqual(codes, [0, 0], 'a clean exit of both supervisors');
    for (const pid of pids) assert.equal(isAlive(pid), false, `worker ${pid} stopped`);
    for (const r of replicas) assert.deepEqual(await readdir(join(r.dir, 'data', 'tmp')), [], 'no temp file after a clean stop');
    const keys = await bucket.keys();
    assert.deepEqual(keys.filter((k) => k.key.startsWith(`${bucket.prefix}replicas/`) || k.key.startsWith(`${bucket.prefix}leases/fills/`)), [], 'no heartbeat and no fill lease left');

    const [one] = replicas;
    assert.ok(one);
    one.server = await spawnWorkers(one.dir, one.config, { PULLGATE_ADMIN_PASSWORD: adminPassword });
    const blob = await writeLargeBlob(reg, 'team/shared', size, 'workers-cluster-one-fetch');
    const fetched = cdnGets(blob.digest).length;
    const pulls = await Promise.all(Array.from({ length: 4 }, () => pull(one.server.url, `/v2/team/shared/blobs/${blob.digest}`, () => false)));
    for (const p of pulls) assert.equal(p.sha256, blob.digest);
    assert.equal(cdnGets(blob.digest).length, fetched, 'served from the bucket the first run filled');
  });
});
