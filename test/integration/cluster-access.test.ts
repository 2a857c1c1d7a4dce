// Cache access across replicas sharing one bucket (real radosgw) in front of one fake upstream (docs/security.md,
// "Cache access across repositories, upstreams and replicas"): a replica links a digest to a repository only after
// that repository's upstream confirmed it, on this replica or on another that recorded the confirmation in the
// bucket. Holding a fill lease for a repository confirms nothing; a tag imported from the bucket links the manifest
// it names, not every blob that manifest names; and a client whose fill is refused never fails another client's
// pull of the same digest on the same replica while both follow another replica's fill.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, beforeEach, describe, test } from 'node:test';
import { createBucket, startReplicas, type BucketSetup, type Replicas } from '../support/cluster-replicas.js';
import { FakeUpstream, sha256 } from '../support/fake/fake-upstream.js';
import { errorCode, get } from '../support/fake/mirror-over-fake.js';
import { assertInstalled } from '../support/installed-tools.js';
import type { TestMirror } from '../support/mirror-app.js';
import { radosgwPrograms, startRadosgw, type Radosgw } from '../support/radosgw.js';

const slow = { timeout: 120_000 };

async function eventually(what: string, check: () => Promise<boolean> | boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) assert.fail(`timed out waiting until ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe('replicas sharing one bucket: repository links come from upstream confirmations', () => {
  let rgw: Radosgw;
  let bucket: BucketSetup;
  let up: FakeUpstream;
  let cluster: Replicas;
  let a: TestMirror;
  let b: TestMirror;

  before(async () => {
    await assertInstalled(...radosgwPrograms);
    rgw = await startRadosgw();
    bucket = await createBucket(rgw, 'pullgate-cluster-access');
    up = await new FakeUpstream().start();
    cluster = await startReplicas({ replicas: 2, bucket, upstreams: [{ name: 'hub', registry: 'docker.io', url: up.url, default: true }], leaseTtl: '2s' });
    [a, b] = cluster.mirrors as [TestMirror, TestMirror];
  }, slow);
  after(async () => {
    await cluster?.close();
    await up?.stop();
    await rgw?.stop();
  });
  beforeEach(() => up.reset());

  const leaseKey = (digest: string) => `${bucket.prefix}leases/fills/sha256/${digest.slice(7)}`;
  const stored = (m: TestMirror, digest: string) => async () => (await m.app.services.store.stat(digest as never)) !== undefined;

  test('a tag imported from the bucket links its manifest, not a blob the manifest names that its repository never served', slow, async () => {
    const secret = randomBytes(32 * 1024);
    const secretDigest = up.addBlob(secret);
    up.blobRepositories.set(secretDigest, new Set(['secret/x']));
    // The upstream serves, under team/app, a manifest naming the secret layer that team/app does not hold.
    const config = Buffer.from('{}');
    const configDigest = up.addBlob(config);
    const manifest = Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: 'application/vnd.oci.image.manifest.v1+json',
        config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: configDigest, size: config.length },
        layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: secretDigest, size: secret.length }],
      }),
    );
    up.putManifest('team/app', '1', 'application/vnd.oci.image.manifest.v1+json', manifest);

    // A pulls the secret layer under the repository that holds it, and the manifest of team/app:1.
    assert.ok((await get(a.url, `/v2/secret/x/blobs/${secretDigest}`)).body.equals(secret));
    assert.equal((await get(a.url, '/v2/team/app/manifests/1')).status, 200);
    await eventually('the layer is in the bucket', stored(a, secretDigest));
    await a.app.cache.catalog.settled();

    // B adopts team/app:1 from the bucket (no upstream request), then is asked for the secret layer under team/app.
    up.reset();
    const byTag = await get(b.url, '/v2/team/app/manifests/1');
    assert.equal(byTag.status, 200);
    assert.equal(byTag.headers['docker-content-digest'], sha256(manifest));
    assert.equal(up.requests.length, 0, 'the tag came from the bucket');
    const leaked = await get(b.url, `/v2/team/app/blobs/${secretDigest}`);
    assert.equal(leaked.status, 404, 'the secret layer was served under team/app');
    assert.equal(errorCode(leaked), 'BLOB_UNKNOWN');
    assert.equal(up.count((q) => q.method === 'HEAD' && q.path === `/v2/team/app/blobs/${secretDigest}`), 1);

    // A's confirmation of secret/x is in the bucket: B serves the layer there without asking the upstream.
    up.reset();
    const home = await get(b.url, `/v2/secret/x/blobs/${secretDigest}`);
    assert.equal(home.status, 200);
    assert.ok(home.body.equals(secret));
    assert.equal(up.requests.length, 0, 'B asked the upstream again');
  });

  test('a replica that followed a fill lease for a repository the upstream then refused links nothing there', slow, async () => {
    const layer = randomBytes(64 * 1024);
    const digest = up.addBlob(layer);
    up.blobRepositories.set(digest, new Set(['library/alpine']));
    up.faults.headerDelayMs = 400;
    const onA = get(a.url, `/v2/team/gone/blobs/${digest}`);
    // A holds the lease (for team/gone) while its upstream request waits; B's request for team/gone follows it.
    await eventually('A holds the fill lease', async () => (await bucket.keys()).some((k) => k.key === leaseKey(digest)));
    const onB = get(b.url, `/v2/team/gone/blobs/${digest}`);
    for (const r of await Promise.all([onA, onB])) assert.equal(r.status, 404);

    // The blob is cached through a repository that holds it; team/gone still does not, on either replica.
    up.reset();
    assert.ok((await get(a.url, `/v2/library/alpine/blobs/${digest}`)).body.equals(layer));
    await eventually('the blob is in the bucket', stored(a, digest));
    for (const m of [b, a]) {
      const r = await get(m.url, `/v2/team/gone/blobs/${digest}`);
      assert.equal(r.status, 404, `${m === a ? 'A' : 'B'} served the blob under team/gone`);
      assert.equal(errorCode(r), 'BLOB_UNKNOWN');
    }
  });

  test('on a replica following another\'s fill, a client refused for its repository does not fail a concurrent pull of the same digest', slow, async () => {
    const layer = randomBytes(256 * 1024);
    const digest = up.addBlob(layer);
    up.blobRepositories.set(digest, new Set(['library/alpine']));
    up.faults.headerDelayMs = 400;
    const legitOnA = get(a.url, `/v2/library/alpine/blobs/${digest}`);
    await eventually('A holds the fill lease', async () => (await bucket.keys()).some((k) => k.key === leaseKey(digest)));
    // On B, a request for a repository that lacks the digest starts B's fill (it follows A's lease after a HEAD of
    // its own, which the upstream refuses); a legitimate request arrives while that HEAD is out.
    const hostileOnB = get(b.url, `/v2/team/gone/blobs/${digest}`);
    await eventually('B has a fill in flight', () => b.app.services.fills.get(digest as never) !== undefined);
    const legitOnB = get(b.url, `/v2/library/alpine/blobs/${digest}`);
    const [ra, hostile, rb] = await Promise.all([legitOnA, hostileOnB, legitOnB]);
    assert.equal(hostile.status, 404);
    assert.equal(ra.status, 200);
    assert.ok(ra.body.equals(layer));
    assert.equal(rb.status, 200, `B's legitimate client got ${rb.status} ${rb.body.toString('utf8').slice(0, 200)}`);
    assert.ok(rb.body.equals(layer));
  });
});
