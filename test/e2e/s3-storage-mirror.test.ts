// A real mirror with `cache.storage: s3` on a real S3 server (Ceph radosgw) in front of a real registry (docker-registry
// with token auth and a CDN): skopeo pulls an image twice, and the second pull's blobs come from the bucket with no
// upstream blob fetch; Range requests are served from the bucket with the exact bytes. radosgw's own access log is
// the ground truth for bucket traffic, the CDN's for upstream blob bytes.
import assert from 'node:assert/strict';
import { open as openFile, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { CreateBucketCommand, HeadObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { Agent, request } from 'undici';
import { createS3Client } from '../../src/cache/s3-client.js';
import { parseDigest } from '../../src/registry/digest.js';
import { pushFixtures, writeLargeBlob, type Fixtures } from '../support/fixture-images.js';
import { assertInstalled } from '../support/installed-tools.js';
import type { Descriptor } from '../support/oci-layout.js';
import { blobDataPath, type LargeBlob } from '../support/large-blob.js';
import { startMirror, type TestMirror } from '../support/mirror-app.js';
import { assertCdnNeverServed, assertCdnServedLayersToMirror, assertLayerFiles } from '../support/pull-assertions.js';
import { parseAccessLines } from '../support/pull-through-setup.js';
import { radosgwPrograms, startRadosgw, type Radosgw, type RgwRequest } from '../support/radosgw.js';
import { startRealRegistry, type RealRegistry } from '../support/real-registry.js';
import { skopeo } from '../support/skopeo.js';

const requiredPrograms = ['docker-registry', 'skopeo', 'openssl', ...radosgwPrograms];
const bucket = 'pullgate-cache';
const prefix = 'mirror/';
const slow = { timeout: 180_000 };

test('docker-registry, skopeo and radosgw are installed for the S3 storage e2e tests', () => assertInstalled(...requiredPrograms));

describe('a mirror whose blobs live in an S3 bucket (radosgw)', () => {
  let rgw: Radosgw;
  let s3: S3Client;
  let reg: RealRegistry;
  let fixtures: Fixtures;
  let large: LargeBlob;
  let mirror: TestMirror;
  let mirrorAt: string;
  let agent: Agent;

  const keyOf = (digest: string): string => `${prefix}blobs/sha256/${digest.slice(7, 9)}/${digest.slice(7)}`;
  const bucketTraffic = async (from: number, digest: string): Promise<RgwRequest[]> =>
    (await rgw.requests()).slice(from).filter((r) => r.path === `/${bucket}/${keyOf(digest)}`);

  before(async () => {
    await assertInstalled(...requiredPrograms);
    rgw = await startRadosgw();
    s3 = createS3Client(
      { type: 's3', endpoint: rgw.endpoint, region: rgw.region, bucket, prefix, accessKeyId: rgw.accessKeyId, secretAccessKey: rgw.secretAccessKey, forcePathStyle: true, multipartThreshold: 16 << 20, partSize: 8 << 20 },
      { connectMs: 2_000, idleMs: 10_000 },
    );
    await s3.send(new CreateBucketCommand({ Bucket: bucket }));
    reg = await startRealRegistry();
    fixtures = await pushFixtures(reg);
    large = await writeLargeBlob(reg, 'team/app', 24 * 1024 * 1024, 's3-range');
    const cert = await reg.ca.issue('pullgate-mirror', ['localhost'], ['127.0.0.1']);
    const secretFile = join(rgw.dir, 'pullgate-s3-secret');
    await writeFile(secretFile, `${rgw.secretAccessKey}\n`, { mode: 0o600 });
    mirror = await startMirror({
      listen: { https: '127.0.0.1:0' },
      tls: { certificates: [{ cert: cert.certPath, key: cert.keyPath }] },
      upstreams: [{ name: 'hub', registry: 'docker.io', url: reg.url, ca: reg.caFile, default: true }],
      cache: {
        storage: { type: 's3', endpoint: rgw.endpoint, region: rgw.region, bucket, prefix, accessKeyId: rgw.accessKeyId, secretAccessKeyFile: secretFile, forcePathStyle: true },
      },
    });
    mirrorAt = new URL(mirror.httpsUrl ?? '').host;
    agent = new Agent({ connect: { ca: reg.ca.caCertPem } });
  }, { timeout: 240_000 });

  after(async () => {
    await agent?.close();
    await mirror?.close();
    await reg?.stop();
    s3?.destroy();
    await rgw?.stop();
  });

  test('skopeo pulls team/app:1.0 twice: the first fills the bucket, the second takes every blob from it and none from the upstream', slow, async () => {
    const { app } = fixtures;
    const { config } = JSON.parse(app.raw.toString('utf8')) as { config: Descriptor };
    const blobs = [...app.layers, config];
    const ref = `docker://${mirrorAt}/team/app:1.0`;
    const pull = async (dest: string) => {
      await skopeo(['copy', '--quiet', '--src-no-creds', '--src-cert-dir', reg.ca.certDir, ref, `oci:${join(mirror.dataDir, dest)}:1.0`]);
      await assertLayerFiles(join(mirror.dataDir, dest, 'blobs', 'sha256'), app.layers);
    };

    reg.cdn.reset();
    await pull('first');
    assertCdnServedLayersToMirror(reg, app.layers);
    for (const layer of blobs) {
      const head = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: keyOf(layer.digest) }));
      assert.equal(head.ContentLength, layer.size, `${layer.digest} is in the bucket, whole`);
    }
    assert.deepEqual(await readdir(mirror.dataDir).then((names) => names.filter((n) => n === 'blobs')), [], 'no blob went to the local disk');

    reg.cdn.reset();
    const fromLine = mirror.logs.length;
    const fromRequest = (await rgw.requests()).length;
    await pull('second');
    assertCdnNeverServed(reg, blobs);
    assert.equal(reg.cdn.requests.length, 0, 'the second pull fetched nothing from the upstream CDN');
    const lines = parseAccessLines(mirror.logs.slice(fromLine));
    for (const layer of app.layers) {
      const line = lines.find((l) => l.method === 'GET' && l.url.endsWith(`/blobs/${layer.digest}`));
      assert.equal(line?.cache, 'HIT', `layer ${layer.digest} was a cache hit`);
      assert.equal(line?.bytes, layer.size);
      const traffic = await bucketTraffic(fromRequest, layer.digest);
      // Two requests per blob served: HeadObject (is it stored, how large) and one GetObject of the whole span.
      assert.deepEqual(
        traffic.map((r) => [r.method, r.status, r.range]),
        [['HEAD', 200, undefined], ['GET', 206, `bytes=0-${layer.size - 1}`]],
        `bucket requests for ${layer.digest}`,
      );
    }
  });

  test('Range requests for a 24 MiB blob in the bucket get 206 with exactly those bytes, ranged GETs to the bucket', slow, async () => {
    const url = `https://${mirrorAt}/v2/team/app/blobs/${large.digest}`;
    const whole = await request(url, { dispatcher: agent });
    assert.equal(whole.statusCode, 200);
    let received = 0;
    for await (const chunk of whole.body) received += (chunk as Buffer).length;
    assert.equal(received, large.size);
    // The fill commits (a multipart upload) after the last byte: wait until the bucket has the blob.
    for (let i = 0; i < 200 && (await mirror.app.cache.store.stat(parseDigest(large.digest))) === undefined; i++) await new Promise((r) => setTimeout(r, 50));

    const source = await openFile(blobDataPath(reg.storageRoot, large.digest.slice(7)));
    const expected = async (start: number, end: number): Promise<Buffer> => {
      const buffer = Buffer.alloc(end - start + 1);
      await source.read(buffer, 0, buffer.length, start);
      return buffer;
    };
    try {
      reg.cdn.reset();
      const fromRequest = (await rgw.requests()).length;
      for (const [range, start, end] of [
        ['bytes=10000000-10000099', 10_000_000, 10_000_099],
        [`bytes=${large.size - 7}-`, large.size - 7, large.size - 1],
        ['bytes=0-0', 0, 0],
      ] as const) {
        const res = await request(url, { dispatcher: agent, headers: { range } });
        const chunks: Buffer[] = [];
        for await (const chunk of res.body) chunks.push(chunk as Buffer);
        assert.equal(res.statusCode, 206, range);
        assert.equal(res.headers['content-range'], `bytes ${start}-${end}/${large.size}`);
        assert.deepEqual(Buffer.concat(chunks), await expected(start, end), `bytes of ${range}`);
      }
      const gets = (await bucketTraffic(fromRequest, large.digest)).filter((r) => r.method === 'GET');
      assert.deepEqual(gets.map((r) => [r.status, r.range]), [
        [206, 'bytes=10000000-10000099'],
        [206, `bytes=${large.size - 7}-${large.size - 1}`],
        [206, 'bytes=0-0'],
      ]);
      assert.equal(reg.cdn.requests.length, 0, 'ranges came from the bucket, not the upstream');
    } finally {
      await source.close();
    }
  });

  test('the secret access key never reaches the mirror log', () => {
    assert.ok(mirror.logs.length > 0);
    assert.ok(!mirror.logs.join('\n').includes(rgw.secretAccessKey));
  });
});
