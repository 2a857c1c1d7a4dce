// The local read cache (src/cache/read-cache-blob-store.ts) in front of the S3 store on a real S3 server (Ceph
// radosgw): first the blob store conformance suite, then its own rules, with radosgw's access log as the ground
// truth for "no object store request": hits (Range included) stay local, a miss keeps a verified copy once, a partial
// read keeps nothing, the cap evicts least recently used copies down to the low-water mark, a corrupt copy is
// detected and fetched again, remove drops the copy, copies survive a restart. Then a mirror configured with
// `readCache` serves a second pull with no bucket read.
import assert from 'node:assert/strict';
import { access, mkdtemp, readdir, rm, truncate, writeFile, open as openFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, test } from 'node:test';
import { CreateBucketCommand, type S3Client } from '@aws-sdk/client-s3';
import pino from 'pino';
import { Agent, request } from 'undici';
import type { TempFiles } from '../../src/cache/ports.js';
import { copyPath } from '../../src/cache/read-cache-entries.js';
import { LocalCopyCorruptError, ReadCacheBlobStore } from '../../src/cache/read-cache-blob-store.js';
import { S3BlobStore } from '../../src/cache/s3-blob-store.js';
import { createS3Client, type S3StorageConfig } from '../../src/cache/s3-client.js';
import { DiskTempFiles } from '../../src/cache/temp-files.js';
import type { Digest } from '../../src/registry/digest.js';
import { blobOf, describeBlobStore, readAll, type Blob } from '../support/blob-store-conformance.js';
import { assertInstalled } from '../support/installed-tools.js';
import { writeLargeBlob } from '../support/large-blob.js';
import { startMirror } from '../support/mirror-app.js';
import { radosgwPrograms, rgwStorage, startRadosgw, type Radosgw } from '../support/radosgw.js';
import { startRealRegistry } from '../support/real-registry.js';

const mib = 1024 * 1024;
const silent = pino({ level: 'silent' });
const exists = (path: string): Promise<boolean> => access(path).then(() => true, () => false);

test('radosgw and the Ceph daemons are installed for the read cache tests', () => assertInstalled(...radosgwPrograms));

/** TempFiles that count what they hand out: one local fill per digest is one temp file per digest. */
class CountingTempFiles implements TempFiles {
  created = 0;
  private readonly disk: DiskTempFiles;
  constructor(dataDir: string) {
    this.disk = new DiskTempFiles(dataDir);
  }
  get dir(): string {
    return this.disk.dir;
  }
  create(): Promise<string> {
    this.created++;
    return this.disk.create();
  }
  clean(): Promise<number> {
    return this.disk.clean();
  }
}

describe('the local read cache in front of the S3 store (radosgw)', { timeout: 300_000 }, () => {
  let rgw: Radosgw;
  let admin: S3Client;
  const bucket = 'read-cache';
  const cleanup: string[] = [];

  const storage = (prefix: string): S3StorageConfig => ({
    ...rgwStorage(rgw, bucket, prefix),
    multipartThreshold: 6 * mib,
    partSize: 5 * mib,
    redirect: false,
    redirectTtl: 20 * 60_000,
  });
  const bucketStore = (prefix: string): S3BlobStore =>
    new S3BlobStore({ client: createS3Client(storage(prefix), { connectMs: 2_000, idleMs: 10_000 }), bucket, prefix, multipartThreshold: 6 * mib, partSize: 5 * mib, log: silent });

  interface Subject {
    store: ReadCacheBlobStore;
    /** The same bucket and prefix without a read cache: another replica, or the bucket as it is. */
    bucketOnly: S3BlobStore;
    temp: CountingTempFiles;
    dataDir: string;
    prefix: string;
  }

  async function subject(name: string, caps: { maxBytes?: number; lowWaterBytes?: number; dataDir?: string; prefix?: string } = {}): Promise<Subject> {
    const dataDir = caps.dataDir ?? (await mkdtemp(join(tmpdir(), `pullgate-read-cache-${name}-`)));
    cleanup.push(dataDir);
    const prefix = caps.prefix ?? `${name}/`;
    const temp = new CountingTempFiles(dataDir);
    const store = await ReadCacheBlobStore.open({
      inner: bucketStore(prefix),
      dir: join(dataDir, 'read-cache'),
      temp,
      maxBytes: caps.maxBytes ?? 512 * mib,
      lowWaterBytes: caps.lowWaterBytes ?? 460 * mib,
      log: silent,
    });
    return { store, bucketOnly: bucketStore(prefix), temp, dataDir, prefix };
  }

  /** Puts a blob into the bucket the way another replica would: not through this read cache. */
  async function inBucket(s: Subject, blob: Blob): Promise<void> {
    const path = await s.temp.create();
    s.temp.created--;
    await writeFile(path, blob.bytes);
    await s.bucketOnly.commit(blob.digest, path);
  }

  /** Requests radosgw answered for this blob's key since `from`. */
  async function bucketRequests(s: Subject, digest: Digest, from: number): Promise<number> {
    const key = `/${bucket}/${s.bucketOnly.keyOf(digest)}`;
    return (await rgw.requests()).slice(from).filter((r) => r.path === key).length;
  }

  const logLength = async (): Promise<number> => (await rgw.requests()).length;

  /** What blobs.ts does: stat, then open the span. */
  async function read(s: Subject, digest: Digest, span?: { start: number; end: number }): Promise<Buffer> {
    const size = await s.store.stat(digest);
    assert.ok(size !== undefined, `${digest} is stored`);
    const stream = await s.store.open(digest, span ?? { start: 0, end: size - 1 });
    assert.ok(stream);
    return readAll(stream);
  }

  async function localCopyOf(s: Subject, digest: Digest): Promise<void> {
    for (let i = 0; i < 100 && !s.store.has(digest); i++) await sleep(20);
    assert.ok(s.store.has(digest), 'the local copy was kept');
  }

  before(async () => {
    rgw = await startRadosgw();
    admin = createS3Client({ ...storage(''), bucket: 'unused' }, { connectMs: 2_000, idleMs: 10_000 });
    await admin.send(new CreateBucketCommand({ Bucket: bucket }));
  }, { timeout: 120_000 });

  after(async () => {
    admin?.destroy();
    await rgw?.stop();
    for (const dir of cleanup) await rm(dir, { recursive: true, force: true });
  });

  describeBlobStore('S3 with a local read cache (radosgw)', async () => {
    const s = await subject('conformance');
    return { store: s.store, temp: s.temp, multipartThreshold: 6 * mib, close: async () => undefined };
  });

  test('a committed blob is kept locally: stat, whole reads and ranges ask the bucket nothing', async () => {
    const s = await subject('hit');
    const blob = blobOf('hit', 300_000);
    const path = await s.temp.create();
    await writeFile(path, blob.bytes);
    await s.store.commit(blob.digest, path);
    assert.ok(s.store.has(blob.digest));
    const from = await logLength();
    assert.equal(await s.store.stat(blob.digest), blob.bytes.length);
    assert.deepEqual(await read(s, blob.digest), blob.bytes);
    assert.deepEqual(await read(s, blob.digest, { start: 1_000, end: 99_999 }), blob.bytes.subarray(1_000, 100_000));
    assert.deepEqual(await read(s, blob.digest, { start: 299_999, end: 299_999 }), blob.bytes.subarray(299_999));
    assert.equal(await bucketRequests(s, blob.digest, from), 0);
  });

  test('a miss streams from the bucket and keeps a verified copy; later reads ask the bucket nothing', async () => {
    const s = await subject('miss');
    const blob = blobOf('miss', 2 * mib + 17);
    await inBucket(s, blob);
    assert.deepEqual(await read(s, blob.digest), blob.bytes);
    await localCopyOf(s, blob.digest);
    const from = await logLength();
    assert.deepEqual(await read(s, blob.digest), blob.bytes);
    assert.deepEqual(await read(s, blob.digest, { start: mib, end: mib + 9 }), blob.bytes.subarray(mib, mib + 10));
    assert.equal(await bucketRequests(s, blob.digest, from), 0);
  });

  test('concurrent misses of one digest all get the exact bytes and make one local fill', async () => {
    const s = await subject('once');
    const blob = blobOf('once', 3 * mib);
    await inBucket(s, blob);
    const before = s.temp.created;
    const bodies = await Promise.all([1, 2, 3, 4].map(() => read(s, blob.digest)));
    for (const body of bodies) assert.deepEqual(body, blob.bytes);
    await localCopyOf(s, blob.digest);
    assert.equal(s.temp.created - before, 1);
  });

  test('a ranged miss and a client that leaves mid-body keep nothing local: no partial copy, no temp file left', async () => {
    const s = await subject('partial');
    const blob = blobOf('partial', 8 * mib);
    await inBucket(s, blob);
    assert.deepEqual(await read(s, blob.digest, { start: 0, end: 999 }), blob.bytes.subarray(0, 1_000));
    assert.equal(s.store.has(blob.digest), false);
    const size = await s.store.stat(blob.digest);
    const stream = await s.store.open(blob.digest, { start: 0, end: (size ?? 0) - 1 });
    assert.ok(stream);
    for await (const _chunk of stream) break;
    await sleep(300);
    assert.equal(s.store.has(blob.digest), false);
    assert.equal(await exists(copyPath(join(s.dataDir, 'read-cache'), blob.digest)), false);
    assert.deepEqual(await readdir(s.temp.dir), []);
    // The next whole read fills it after all.
    assert.deepEqual(await read(s, blob.digest), blob.bytes);
    await localCopyOf(s, blob.digest);
  });

  test('above the cap the least recently used copies go, down to the low-water mark; evicted blobs still come from the bucket', async () => {
    const s = await subject('cap', { maxBytes: 350_000, lowWaterBytes: 250_000 });
    const [a, b, c, d] = ['a', 'b', 'c', 'd'].map((n) => blobOf(`cap-${n}`, 100_000)) as [Blob, Blob, Blob, Blob];
    for (const blob of [a, b, c]) {
      await inBucket(s, blob);
      await read(s, blob.digest);
      await localCopyOf(s, blob.digest);
    }
    await read(s, a.digest); // a is now the most recently used
    await inBucket(s, d);
    await read(s, d.digest);
    await localCopyOf(s, d.digest);
    assert.deepEqual([a, b, c, d].map((x) => s.store.has(x.digest)), [true, false, false, true]);
    assert.deepEqual(s.store.local, { blobs: 2, bytes: 200_000 });
    await sleep(100);
    assert.equal(await exists(copyPath(join(s.dataDir, 'read-cache'), b.digest)), false);
    assert.equal(await exists(copyPath(join(s.dataDir, 'read-cache'), c.digest)), false);
    const from = await logLength();
    assert.deepEqual(await read(s, b.digest, { start: 10, end: 19 }), b.bytes.subarray(10, 20));
    assert.ok((await bucketRequests(s, b.digest, from)) >= 1, 'an evicted blob is read from the bucket');
  });

  test('a blob larger than the low-water mark is served but never kept locally', async () => {
    const s = await subject('big', { maxBytes: 200_000, lowWaterBytes: 150_000 });
    const blob = blobOf('big', 160_000);
    await inBucket(s, blob);
    assert.deepEqual(await read(s, blob.digest), blob.bytes);
    await sleep(200);
    assert.equal(s.store.has(blob.digest), false);
  });

  test('a corrupted local copy is detected: the read aborts, the copy is dropped and the next read refetches it', async () => {
    const s = await subject('corrupt');
    const blob = blobOf('corrupt', 500_000);
    await inBucket(s, blob);
    await read(s, blob.digest);
    await localCopyOf(s, blob.digest);
    const path = copyPath(join(s.dataDir, 'read-cache'), blob.digest);
    const file = await openFile(path, 'r+');
    await file.write(Buffer.from([(blob.bytes[250_000] ?? 0) ^ 0xff]), 0, 1, 250_000);
    await file.close();
    await assert.rejects(read(s, blob.digest), (err: unknown) => err instanceof LocalCopyCorruptError);
    assert.equal(s.store.has(blob.digest), false);
    const from = await logLength();
    assert.deepEqual(await read(s, blob.digest), blob.bytes);
    assert.ok((await bucketRequests(s, blob.digest, from)) >= 1, 'refetched from the bucket');
    await localCopyOf(s, blob.digest);
    assert.deepEqual(await read(s, blob.digest), blob.bytes);
  });

  test('a truncated local copy is a miss: the same read is answered from the bucket', async () => {
    const s = await subject('truncated');
    const blob = blobOf('truncated', 400_000);
    await inBucket(s, blob);
    await read(s, blob.digest);
    await localCopyOf(s, blob.digest);
    await truncate(copyPath(join(s.dataDir, 'read-cache'), blob.digest), 1_000);
    const from = await logLength();
    assert.deepEqual(await read(s, blob.digest, { start: 5_000, end: 5_999 }), blob.bytes.subarray(5_000, 6_000));
    assert.ok((await bucketRequests(s, blob.digest, from)) >= 1);
  });

  test('remove drops the local copy and the object', async () => {
    const s = await subject('remove');
    const blob = blobOf('remove', 50_000);
    const path = await s.temp.create();
    await writeFile(path, blob.bytes);
    await s.store.commit(blob.digest, path);
    await s.store.remove(blob.digest);
    assert.equal(s.store.has(blob.digest), false);
    assert.equal(await exists(copyPath(join(s.dataDir, 'read-cache'), blob.digest)), false);
    assert.equal(await s.store.stat(blob.digest), undefined);
    assert.equal(await s.bucketOnly.stat(blob.digest), undefined);
  });

  test('a blob removed while its local copy is being filled is not kept once the fill ends', async () => {
    const s = await subject('remove-filling');
    const blob = blobOf('remove-filling', 8 * mib);
    await inBucket(s, blob);
    const size = await s.store.stat(blob.digest);
    const stream = await s.store.open(blob.digest, { start: 0, end: (size ?? 0) - 1 });
    assert.ok(stream);
    const chunks: Buffer[] = [];
    let removed = false;
    for await (const chunk of stream) {
      chunks.push(chunk as Buffer);
      if (!removed) {
        removed = true;
        await s.store.remove(blob.digest);
      }
    }
    assert.deepEqual(Buffer.concat(chunks), blob.bytes, 'the response under way is served whole');
    await sleep(300);
    assert.equal(s.store.has(blob.digest), false);
    assert.equal(await exists(copyPath(join(s.dataDir, 'read-cache'), blob.digest)), false);
    assert.deepEqual(await readdir(s.temp.dir), []);
  });

  test('local copies survive a restart and are served without a bucket request', async () => {
    const s = await subject('restart');
    const blob = blobOf('restart', 70_000);
    await inBucket(s, blob);
    await read(s, blob.digest);
    await localCopyOf(s, blob.digest);
    const again = await subject('restart', { dataDir: s.dataDir, prefix: s.prefix });
    assert.ok(again.store.has(blob.digest));
    const from = await logLength();
    assert.deepEqual(await read(again, blob.digest), blob.bytes);
    assert.equal(await bucketRequests(again, blob.digest, from), 0);
  });

  test('a mirror with cache.storage.readCache serves a blob pulled before without reading the bucket', { timeout: 180_000 }, async () => {
    const reg = await startRealRegistry();
    try {
      const large = await writeLargeBlob(reg, 'team/app', 6 * mib, 'read-cache-mirror');
      const cert = await reg.ca.issue('pullgate-mirror', ['localhost'], ['127.0.0.1']);
      const mirror = await startMirror({
        listen: { https: '127.0.0.1:0' },
        tls: { certificates: [{ cert: cert.certPath, key: cert.keyPath }] },
        upstreams: [{ name: 'hub', registry: 'docker.io', url: reg.url, ca: reg.caFile, default: true }],
        cache: {
          storage: { ...storage('mirror/'), redirectTtl: '20m', readCache: { maxSize: '64MiB' } },
        },
      });
      const agent = new Agent({ connect: { ca: reg.ca.caCertPem } });
      try {
        const url = `${mirror.httpsUrl}/v2/team/app/blobs/${large.digest}`;
        const pull = async (): Promise<Buffer> => {
          const res = await request(url, { dispatcher: agent });
          assert.equal(res.statusCode, 200);
          return Buffer.from(await res.body.arrayBuffer());
        };
        const first = await pull();
        assert.equal(first.length, 6 * mib);
        const digest = large.digest as Digest;
        for (let i = 0; i < 200 && (await bucketStore('mirror/').stat(digest)) === undefined; i++) await sleep(50);
        const key = `/${bucket}/${bucketStore('mirror/').keyOf(digest)}`;
        const from = await logLength();
        assert.deepEqual(await pull(), first);
        const ranged = await request(url, { dispatcher: agent, headers: { range: 'bytes=100-199' } });
        assert.equal(ranged.statusCode, 206);
        assert.deepEqual(Buffer.from(await ranged.body.arrayBuffer()), first.subarray(100, 200));
        assert.deepEqual((await rgw.requests()).slice(from).filter((r) => r.path === key), []);
      } finally {
        await agent.close();
        await mirror.close();
      }
    } finally {
      await reg.stop();
    }
  });
});
