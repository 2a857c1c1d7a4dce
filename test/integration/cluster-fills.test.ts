// Replicas sharing one bucket (real radosgw) in front of one fake upstream whose requests are counted: a cold blob
// asked of every replica at once is fetched upstream once and every client gets the exact bytes; a failed fill fails
// every replica's clients and leaves nothing in the bucket; a lease whose holder does not answer is taken over once
// it expires; the internal endpoint answers only signed requests from peers.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, beforeEach, describe, test } from 'node:test';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import pino from 'pino';
import { request } from 'undici';
import { LeaseStore } from '../../src/cluster/leases.js';
import { PeerAuth, peerAuthHeader } from '../../src/cluster/peer-auth.js';
import { createBucket, startReplicas, type BucketSetup, type Replicas } from '../support/cluster-replicas.js';
import { FakeUpstream } from '../support/fake/fake-upstream.js';
import { assertInstalled } from '../support/installed-tools.js';
import { freePort } from '../support/loopback-listener.js';
import { until } from '../support/until.js';
import { radosgwPrograms, startRadosgw, type Radosgw } from '../support/radosgw.js';

const slow = { timeout: 120_000 };

/** The whole body, or a rejection when the transfer is aborted instead of ended. */
async function download(url: string, headers: Record<string, string> = {}): Promise<{ status: number; body: Buffer; headers: Record<string, unknown> }> {
  const res = await request(url, { headers });
  const chunks: Buffer[] = [];
  for await (const c of res.body) chunks.push(c as Buffer);
  return { status: res.statusCode, body: Buffer.concat(chunks), headers: res.headers };
}

const cacheMarks = (logs: string[], path: string): string[] =>
  logs.flatMap((l) => {
    const line = JSON.parse(l) as { url?: string; cache?: string };
    return line.url === path && line.cache ? [line.cache] : [];
  });

describe('replicas sharing one bucket: one upstream fetch per blob for the cluster', () => {
  let rgw: Radosgw;
  let bucket: BucketSetup;
  let up: FakeUpstream;
  let cluster: Replicas;
  let blob: Buffer;
  let digest: string;
  let path: string;

  const blobGets = () => up.requests.filter((r) => r.method === 'GET' && r.path.endsWith(`/blobs/${digest}`)).length;
  const blobKey = () => `${bucket.prefix}blobs/sha256/${digest.slice(7, 9)}/${digest.slice(7)}`;

  before(async () => {
    await assertInstalled(...radosgwPrograms);
    rgw = await startRadosgw();
    bucket = await createBucket(rgw, 'pullgate-cluster');
    up = await new FakeUpstream().start();
    cluster = await startReplicas({ replicas: 3, bucket, upstreams: [{ name: 'hub', registry: 'docker.io', url: up.url, default: true }], leaseTtl: '2s' });
  }, slow);
  after(async () => {
    await cluster?.close();
    await up?.stop();
    await rgw?.stop();
  });
  beforeEach(() => {
    up.reset();
    blob = randomBytes(6 * 1024 * 1024 + 321);
    digest = up.addBlob(blob);
    path = `/v2/library/alpine/blobs/${digest}`;
  });

  test('16 concurrent cold requests (full and Range) over 3 replicas make exactly one upstream blob fetch, all bytes exact', slow, async () => {
    // Slow enough that every request arrives while the one fill is running.
    up.faults.blobChunkDelayMs = 15;
    const asks = Array.from({ length: 16 }, (_, i) => {
      const mirror = cluster.mirrors[i % 3]!;
      const ranged = i % 4 === 3;
      return download(mirror.url + path, ranged ? { range: `bytes=${i * 1000}-` } : {}).then((r) => ({ r, ranged, i }));
    });
    for (const { r, ranged, i } of await Promise.all(asks)) {
      assert.equal(r.status, ranged ? 206 : 200);
      assert.ok(r.body.equals(ranged ? blob.subarray(i * 1000) : blob), `client ${i} got the exact bytes`);
    }
    assert.equal(blobGets(), 1, 'one upstream blob fetch for the whole cluster');
    const marks = cluster.mirrors.map((m) => cacheMarks(m.logs, path));
    assert.equal(marks.flat().filter((m) => m === 'MISS').length, 1, `one MISS in the cluster: ${JSON.stringify(marks)}`);
    assert.equal(marks.filter((m) => m.includes('PEER')).length, 2, `the two other replicas followed the winner: ${JSON.stringify(marks)}`);
    // Clients are answered once the bytes are verified; the upload to the bucket may still be running.
    const keys = await until(async () => {
      const all = await bucket.keys();
      return all.some((k) => k.key === blobKey()) && !all.some((k) => k.key.includes('/leases/')) ? all : undefined;
    });
    assert.equal(keys.find((k) => k.key === blobKey())?.size, blob.length, 'committed once, whole');
  });

  test('after the fill, every replica serves the blob from the bucket with no upstream request', slow, async () => {
    await download(cluster.mirrors[0]!.url + path);
    const before = blobGets();
    for (const m of cluster.mirrors) {
      const r = await download(m.url + path);
      assert.ok(r.body.equals(blob));
    }
    assert.equal(blobGets(), before);
  });

  test('a corrupted upstream body fails the clients of every replica (aborted) and leaves nothing in the bucket', slow, async () => {
    up.faults.corruptBlob = true;
    up.faults.blobChunkDelayMs = 10;
    const results = await Promise.allSettled(cluster.mirrors.map((m) => download(m.url + path)));
    up.faults = {};
    for (const r of results) assert.equal(r.status, 'rejected', 'no client sees a clean end of a corrupt blob');
    assert.equal((await bucket.keys()).find((k) => k.key === blobKey()), undefined);
    // Clean again: the next request fetches it, and it is correct.
    const r = await download(cluster.mirrors[1]!.url + path);
    assert.ok(r.body.equals(blob));
  });

  test('a fill lease whose holder does not answer is taken over when it expires, then fetched once', slow, async () => {
    const deadPort = await freePort();
    const leaseKey = `${bucket.prefix}leases/fills/sha256/${digest.slice(7)}`;
    const expiresAt = Date.now() + 2_000;
    await bucket.s3.send(
      new PutObjectCommand({ Bucket: bucket.bucket, Key: leaseKey, Body: JSON.stringify({ owner: `http://127.0.0.1:${deadPort}`, replica: 'gone', expiresAt }) }),
    );
    const r = await download(cluster.mirrors[2]!.url + path);
    assert.ok(Date.now() >= expiresAt, 'waited for the dead holder\'s lease to expire');
    assert.ok(r.body.equals(blob));
    assert.equal(blobGets(), 1);
  });

  test('the internal endpoint refuses unsigned and wrongly signed requests, and knows no other paths', async () => {
    const peer = cluster.mirrors[0]!.app;
    const advertise = peer.config.cluster!.advertise;
    const unsigned = await request(`${advertise}/fills/${digest}`);
    assert.equal(unsigned.statusCode, 401);
    await unsigned.body.dump();
    const wrong = new PeerAuth('x'.repeat(40), 'http://peer.invalid');
    const forged = await request(`${advertise}/fills/${digest}`, { headers: { [peerAuthHeader]: wrong.sign('GET', `/fills/${digest}`, advertise) } });
    assert.equal(forged.statusCode, 401);
    await forged.body.dump();
    const right = new PeerAuth(cluster.secret, 'http://peer.invalid');
    const otherPath = await request(`${advertise}/fills/${digest}`, { headers: { [peerAuthHeader]: right.sign('GET', '/fills/sha256:other', advertise) } });
    assert.equal(otherPath.statusCode, 401, 'a signature is for one path only');
    await otherPath.body.dump();
    const otherReplica = cluster.mirrors[1]!.app.config.cluster!.advertise;
    const forOther = await request(`${advertise}/fills/${digest}`, { headers: { [peerAuthHeader]: right.sign('GET', `/fills/${digest}`, otherReplica) } });
    assert.equal(forOther.statusCode, 401, 'a signature is for one replica only');
    await forOther.body.dump();
    const idle = await request(`${advertise}/fills/${digest}`, { headers: { [peerAuthHeader]: right.sign('GET', `/fills/${digest}`, advertise) } });
    assert.equal(idle.statusCode, 404, 'no fill of it in flight');
    await idle.body.dump();
  });
});

describe('eviction in a cluster runs on one replica at a time', () => {
  let rgw: Radosgw;
  let bucket: BucketSetup;
  let up: FakeUpstream;
  let cluster: Replicas;
  const log = pino({ level: 'silent' });

  before(async () => {
    await assertInstalled(...radosgwPrograms);
    rgw = await startRadosgw();
    bucket = await createBucket(rgw, 'pullgate-evict');
    up = await new FakeUpstream().start();
    cluster = await startReplicas({
      replicas: 1,
      bucket,
      upstreams: [{ name: 'hub', registry: 'docker.io', url: up.url, default: true }],
      extra: { cache: { storage: bucket.storage, maxSize: '5MiB', lowWater: 0.5 } },
    });
  }, slow);
  after(async () => {
    await cluster?.close();
    await up?.stop();
    await rgw?.stop();
  });

  test('while another replica holds the eviction lease this one evicts nothing; once it is released, eviction runs', slow, async () => {
    const other = new LeaseStore({ client: bucket.s3, bucket: bucket.bucket, prefix: bucket.prefix, ttlMs: 60_000, self: { owner: 'http://other:5002', replica: 'other' }, log });
    const held = await other.claim('eviction');
    assert.ok(held.won);
    const mirror = cluster.mirrors[0]!;
    const digests = [randomBytes(3 << 20), randomBytes(3 << 20)].map((b) => up.addBlob(b));
    for (const digest of digests) await download(`${mirror.url}/v2/library/alpine/blobs/${digest}`);
    const stored = async () => (await bucket.keys()).filter((k) => k.key.includes('/blobs/')).length;
    await until(async () => ((await stored()) === 2 ? true : undefined));
    assert.equal(await mirror.app.cache.evict(), undefined, 'over the cap, but another replica is evicting');
    assert.equal(await stored(), 2);
    assert.ok(mirror.logs.some((l) => l.includes('eviction skipped: another replica is evicting')));

    await other.release(held.lease);
    const result = await mirror.app.cache.evict();
    assert.ok(result && result.victims >= 1, 'evicted once the lease was free');
    assert.equal(await stored(), 2 - result.victims);
    assert.equal((await bucket.keys()).filter((k) => k.key.includes('/leases/')).length, 0, 'the eviction lease is released after the run');
  });
});

describe('leases in the bucket', () => {
  let rgw: Radosgw;
  let bucket: BucketSetup;
  const log = pino({ level: 'silent' });
  const store = (replica: string, ttlMs = 1_000, clock?: () => number) =>
    new LeaseStore({ client: bucket.s3, bucket: bucket.bucket, prefix: bucket.prefix, ttlMs, self: { owner: `http://${replica}`, replica }, log, ...(clock ? { clock } : {}) });

  before(async () => {
    await assertInstalled(...radosgwPrograms);
    rgw = await startRadosgw();
    bucket = await createBucket(rgw, 'pullgate-leases', 'leases-test/');
  }, slow);
  after(async () => {
    await rgw?.stop();
  });

  test('of 8 replicas claiming one lease at once, exactly one wins and the others learn who holds it', async () => {
    const claims = await Promise.all(Array.from({ length: 8 }, (_, i) => store(`r${i}`).claim('race')));
    const winners = claims.filter((c) => c.won);
    assert.equal(winners.length, 1);
    const winner = winners[0]!.won ? winners[0]!.lease.record.replica : '';
    for (const c of claims) if (!c.won) assert.equal(c.holder.replica, winner);
  });

  test('a live lease is renewed by its holder; a stale copy cannot renew it', async () => {
    const a = store('a', 5_000);
    const claim = await a.claim('renew');
    assert.ok(claim.won);
    const renewed = await a.renew(claim.lease);
    assert.ok(renewed, 'the holder renews (radosgw 16 needs the ETag unquoted; both forms are tried)');
    assert.ok(renewed.record.expiresAt >= claim.lease.record.expiresAt);
    assert.equal(await a.renew(claim.lease), undefined, 'the superseded ETag no longer matches');
    const b = await store('b', 5_000).claim('renew');
    assert.equal(b.won, false);
  });

  test('an expired lease is taken over by exactly one of several replicas', async () => {
    let now = Date.now();
    const clock = () => now;
    const first = await store('old', 1_000, clock).claim('takeover');
    assert.ok(first.won);
    now += 5_000; // the holder died: nobody renewed
    const claims = await Promise.all(['x', 'y', 'z'].map((r) => store(r, 1_000, clock).claim('takeover')));
    assert.equal(claims.filter((c) => c.won).length, 1);
    assert.equal(await store('old', 1_000, clock).renew(first.lease), undefined, 'the old holder has lost it');
  });

  test('a replica restarted at the same address takes over its predecessor\'s live lease at once', async () => {
    const make = (incarnation: string) =>
      new LeaseStore({ client: bucket.s3, bucket: bucket.bucket, prefix: bucket.prefix, ttlMs: 60_000, self: { owner: 'http://r1', replica: 'r1', incarnation }, log });
    assert.ok((await make('before-restart').claim('restart')).won);
    assert.equal((await store('r2', 60_000).claim('restart')).won, false, 'live for the others');
    assert.ok((await make('after-restart').claim('restart')).won, 'the same address with a new process: the old holder is dead');
  });

  test('release removes the lease only for its holder', async () => {
    const a = store('a');
    const claim = await a.claim('release');
    assert.ok(claim.won);
    await a.release({ ...claim.lease, etag: '"not-mine"' });
    assert.equal((await store('b').claim('release')).won, false, 'a stale holder does not delete a lease it no longer has');
    await a.release(claim.lease);
    assert.equal((await store('b').claim('release')).won, true);
  });

  test('hold keeps a lease alive past its TTL until released', async () => {
    const held = await store('keeper', 900).hold('held');
    assert.ok(held.won);
    await new Promise((r) => setTimeout(r, 2_000));
    assert.equal((await store('other', 900).claim('held')).won, false, 'renewed meanwhile');
    await held.release();
    assert.equal((await store('other', 900).claim('held')).won, true);
  });
});
