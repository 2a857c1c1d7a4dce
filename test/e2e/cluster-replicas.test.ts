// Three Pullgate replicas (separate processes) sharing one bucket on a real S3 server (Ceph radosgw), behind a real
// load balancer (Debian's nginx), in front of a real registry (docker-registry with token auth and a CDN): 16
// concurrent cold pulls of one blob spread over the replicas make one upstream fetch and every client gets the exact
// bytes; a replica killed (SIGKILL) in the middle of a fill leaves nothing partial in the bucket and the pull
// succeeds through another replica once its lease expires; skopeo pulls an image through the balancer.
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { GetObjectCommand, ListMultipartUploadsCommand } from '@aws-sdk/client-s3';
import { Agent, request } from 'undici';
import { createBucket, type BucketSetup } from '../support/cluster-replicas.js';
import { pushFixtures, writeLargeBlob, type Fixtures } from '../support/fixture-images.js';
import { assertInstalled } from '../support/installed-tools.js';
import { startLoadBalancer, type LoadBalancer } from '../support/load-balancer.js';
import { freePort } from '../support/loopback-listener.js';
import { spawnMirror, type MirrorProcess } from '../support/mirror-process.js';
import { assertLayerFiles } from '../support/pull-assertions.js';
import { until } from '../support/until.js';
import { radosgwPrograms, startRadosgw, type Radosgw } from '../support/radosgw.js';
import { startRealRegistry, type RealRegistry } from '../support/real-registry.js';
import { skopeo } from '../support/skopeo.js';

const requiredPrograms = ['docker-registry', 'skopeo', 'openssl', 'nginx', ...radosgwPrograms];
const slow = { timeout: 240_000 };
const leaseTtl = '3s';

test('docker-registry, skopeo, nginx and radosgw are installed for the cluster e2e tests', () => assertInstalled(...requiredPrograms));

async function sha256Of(res: { body: AsyncIterable<unknown> }): Promise<{ digest: string; bytes: number }> {
  const hash = createHash('sha256');
  let bytes = 0;
  for await (const chunk of res.body) {
    hash.update(chunk as Buffer);
    bytes += (chunk as Buffer).length;
  }
  return { digest: `sha256:${hash.digest('hex')}`, bytes };
}

describe('three replicas behind nginx sharing one radosgw bucket', () => {
  let rgw: Radosgw;
  let bucket: BucketSetup;
  let reg: RealRegistry;
  let fixtures: Fixtures;
  let work: string;
  let lb: LoadBalancer;
  const replicas: Array<{ process: MirrorProcess; advertise: string; dir: string }> = [];
  const agent = new Agent({ headersTimeout: 120_000, bodyTimeout: 120_000 });
  const secret = randomBytes(32).toString('hex');

  const blobKey = (digest: string) => `${bucket.prefix}blobs/sha256/${digest.slice(7, 9)}/${digest.slice(7)}`;
  const leaseKey = (digest: string) => `${bucket.prefix}leases/fills/sha256/${digest.slice(7)}`;
  const cdnGets = (digest: string) => reg.cdn.requests.filter((r) => r.method === 'GET' && r.path.includes(digest.slice(7)));
  /** Upstream fills of a blob: each is one GET of the whole blob; its other segments are Range requests (docs/segmented-fills.md). */
  const cdnFills = (digest: string) => cdnGets(digest).filter((r) => r.range === undefined);

  async function startReplica(i: number): Promise<void> {
    const port = await freePort();
    const dir = await mkdtemp(join(work, `replica-${i}-`));
    const advertise = `http://127.0.0.1:${port}`;
    const process = await spawnMirror(dir, {
      log: { level: 'info' },
      upstreams: [{ name: 'hub', registry: 'docker.io', url: reg.url, ca: reg.caFile, default: true }],
      cache: { storage: bucket.storage },
      cluster: { listen: `127.0.0.1:${port}`, advertise, secret, leaseTtl },
    });
    replicas.push({ process, advertise, dir });
  }

  before(async () => {
    await assertInstalled(...requiredPrograms);
    work = await mkdtemp(join(tmpdir(), 'pullgate-cluster-e2e-'));
    rgw = await startRadosgw();
    bucket = await createBucket(rgw, 'pullgate-replicas');
    reg = await startRealRegistry();
    fixtures = await pushFixtures(reg);
    for (let i = 0; i < 3; i++) await startReplica(i);
    lb = await startLoadBalancer({ backends: replicas.map((r) => new URL(r.process.url).host) });
  }, { timeout: 240_000 });

  after(async () => {
    await agent.close();
    await lb?.stop();
    await Promise.all(replicas.map((r) => r.process.stop()));
    await reg?.stop().catch(() => undefined);
    await rgw?.stop();
    if (work) await rm(work, { recursive: true, force: true });
  });

  test('16 concurrent cold pulls of one blob through the balancer reach all three replicas and make one upstream fetch', slow, async () => {
    const blob = await writeLargeBlob(reg, 'team/big', 48 * 1024 * 1024, `cluster-${Date.now()}`);
    const from = (await lb.requests()).length;
    const results = await Promise.all(
      Array.from({ length: 16 }, async () => {
        const res = await request(`${lb.url}/v2/team/big/blobs/${blob.digest}`, { dispatcher: agent });
        assert.equal(res.statusCode, 200);
        return sha256Of(res);
      }),
    );
    for (const r of results) assert.deepEqual(r, { digest: blob.digest, bytes: blob.size });
    const served = (await lb.requests()).slice(from).filter((r) => r.uri.includes(blob.digest));
    assert.equal(served.length, 16);
    assert.equal(new Set(served.map((r) => r.backend)).size, 3, 'the balancer spread the pulls over all three replicas');
    assert.equal(cdnFills(blob.digest).length, 1, 'one upstream blob fetch for the whole cluster');
    const ranges = cdnGets(blob.digest).flatMap((r) => (r.range === undefined ? [] : [r.range]));
    assert.equal(new Set(ranges).size, ranges.length, 'no segment of the blob was fetched twice');
    const keys = await until(async () => {
      const all = await bucket.keys();
      return all.some((k) => k.key === blobKey(blob.digest)) && !all.some((k) => k.key === leaseKey(blob.digest)) ? all : undefined;
    });
    assert.equal(keys.find((k) => k.key === blobKey(blob.digest))?.size, blob.size, 'committed whole, once');
  });

  test('skopeo pulls an image through the balancer, its requests served by different replicas', slow, async () => {
    const { app } = fixtures;
    const dest = join(work, 'skopeo-app');
    await skopeo(['copy', '--quiet', '--src-no-creds', '--src-tls-verify=false', `docker://${new URL(lb.url).host}/team/app:1.0`, `oci:${dest}:1.0`]);
    await assertLayerFiles(join(dest, 'blobs', 'sha256'), app.layers);
  });

  test('a replica killed in the middle of a fill leaves nothing partial in the bucket; the pull succeeds through another replica after the lease expires', slow, async () => {
    const blob = await writeLargeBlob(reg, 'team/huge', 192 * 1024 * 1024, `kill-${Date.now()}`);
    const victim = replicas[0]!;
    // A client of the victim reads the first bytes, then the victim dies while the fill is still running.
    const res = await request(`${victim.process.url}/v2/team/huge/blobs/${blob.digest}`, { dispatcher: agent });
    assert.equal(res.statusCode, 200);
    const reader = res.body[Symbol.asyncIterator]();
    await reader.next();
    const lease = JSON.parse(await (await bucket.s3.send(new GetObjectCommand({ Bucket: bucket.bucket, Key: leaseKey(blob.digest) }))).Body!.transformToString()) as { owner: string; expiresAt: number };
    assert.equal(lease.owner, victim.advertise, 'the victim holds the fill lease');
    const upstreamFetch = cdnGets(blob.digest)[0];
    assert.ok(upstreamFetch && !upstreamFetch.completed, 'the victim\'s upstream fetch is still running');
    await victim.process.stop('SIGKILL');
    await assert.rejects(
      (async () => {
        for (let r = await reader.next(); !r.done; r = await reader.next());
      })(),
      'the victim\'s client sees an aborted transfer, never a clean short end',
    );
    assert.equal((await bucket.keys()).find((k) => k.key === blobKey(blob.digest)), undefined, 'no object for the blob: nothing partial');

    // Through the balancer: the dead replica refuses, another takes the request, waits out the lease, fills.
    const from = (await lb.requests()).length;
    const retry = await request(`${lb.url}/v2/team/huge/blobs/${blob.digest}`, { dispatcher: agent });
    const answeredAt = Date.now();
    assert.equal(retry.statusCode, 200);
    assert.deepEqual(await sha256Of(retry), { digest: blob.digest, bytes: blob.size });
    assert.ok(answeredAt >= lease.expiresAt, 'the dead replica\'s lease was waited out, not ignored');
    const served = (await lb.requests()).slice(from).find((r) => r.uri.includes(blob.digest));
    assert.notEqual(served?.backend, new URL(victim.process.url).host, 'another replica served it');
    assert.equal(cdnFills(blob.digest).length, 2, 'the dead replica\'s fetch, then one takeover');
    const keys = await until(async () => {
      const all = await bucket.keys();
      return all.some((k) => k.key === blobKey(blob.digest)) && !all.some((k) => k.key === leaseKey(blob.digest)) ? all : undefined;
    });
    assert.equal(keys.find((k) => k.key === blobKey(blob.digest))?.size, blob.size);
    const uploads = await bucket.s3.send(new ListMultipartUploadsCommand({ Bucket: bucket.bucket, Prefix: bucket.prefix }));
    assert.deepEqual(uploads.Uploads ?? [], [], 'no multipart upload left behind');
  });

  test('an image pulled through one replica is served by another with the upstream stopped, by tag and by digest', slow, async () => {
    const { alpine } = fixtures;
    const [a, b] = [replicas.at(-2)!, replicas.at(-1)!];
    const pull = (replica: typeof a, reference: string, dest: string) =>
      skopeo(['copy', '--quiet', '--src-no-creds', '--src-tls-verify=false', `docker://${new URL(replica.process.url).host}/${reference}`, `oci:${join(work, dest)}:x`]);
    await pull(a, `${alpine.repository}:${alpine.tag}`, 'through-a');
    // The tag and manifest reach the bucket a moment after A answered.
    const tagKey = `${bucket.prefix}tags/hub/${alpine.repository}/_tags/${alpine.tag}`;
    await until(async () => ((await bucket.keys()).some((k) => k.key === tagKey) ? true : undefined));
    await reg.stop();
    const cdnBefore = reg.cdn.requests.length;
    await pull(b, `${alpine.repository}:${alpine.tag}`, 'through-b-tag');
    await assertLayerFiles(join(work, 'through-b-tag', 'blobs', 'sha256'), alpine.layers);
    await pull(b, `${alpine.repository}@${alpine.digest}`, 'through-b-digest');
    await assertLayerFiles(join(work, 'through-b-digest', 'blobs', 'sha256'), alpine.layers);
    assert.equal(reg.cdn.requests.length, cdnBefore, 'nothing reached the stopped upstream');
  });
});
