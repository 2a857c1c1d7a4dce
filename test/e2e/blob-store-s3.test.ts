// The blob store conformance suite against the S3 store on a real S3 server (Ceph radosgw, test/support/radosgw.ts),
// then what only the S3 store has: content-addressed keys under the prefix, multipart uploads, and object store
// failures named by a stable code with the S3 request id logged.
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { CreateBucketCommand, HeadObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import pino from 'pino';
import { ObjectStoreError } from '../../src/cache/object-store-errors.js';
import { S3BlobStore } from '../../src/cache/s3-blob-store.js';
import { createS3Client, type S3StorageConfig } from '../../src/cache/s3-client.js';
import { DiskTempFiles } from '../../src/cache/temp-files.js';
import { blobOf, describeBlobStore } from '../support/blob-store-conformance.js';
import { assertInstalled } from '../support/installed-tools.js';
import { radosgwPrograms, startRadosgw, type Radosgw } from '../support/radosgw.js';

const mib = 1024 * 1024;
const multipartThreshold = 6 * mib;

test('radosgw and the Ceph daemons are installed for the S3 blob store tests', () => assertInstalled(...radosgwPrograms));

function storageOf(rgw: Radosgw, bucket: string, overrides: Partial<S3StorageConfig> = {}): S3StorageConfig {
  return {
    type: 's3',
    endpoint: rgw.endpoint,
    region: rgw.region,
    bucket,
    prefix: 'cache/',
    accessKeyId: rgw.accessKeyId,
    secretAccessKey: rgw.secretAccessKey,
    forcePathStyle: true,
    multipartThreshold,
    partSize: 5 * mib,
    redirect: false,
    redirectTtl: 20 * 60_000,
    ...overrides,
  };
}

/** A store and a log that captures its lines, for assertions on what was logged. */
function storeOn(storage: S3StorageConfig, lines: string[] = []): S3BlobStore {
  const log = pino({ level: 'info' }, { write: (line: string) => void lines.push(line) });
  return new S3BlobStore({
    client: createS3Client(storage, { connectMs: 2_000, idleMs: 10_000 }),
    bucket: storage.bucket,
    prefix: storage.prefix,
    multipartThreshold: storage.multipartThreshold,
    partSize: storage.partSize,
    log,
  });
}

describe('the S3 blob store on radosgw', { timeout: 300_000 }, () => {
  let rgw: Radosgw;
  let admin: S3Client;
  let work: string;

  before(async () => {
    rgw = await startRadosgw();
    admin = createS3Client(storageOf(rgw, 'unused'), { connectMs: 2_000, idleMs: 10_000 });
    await admin.send(new CreateBucketCommand({ Bucket: 'conformance' }));
    await admin.send(new CreateBucketCommand({ Bucket: 'extras' }));
    work = await mkdtemp(join(tmpdir(), 'pullgate-s3-store-'));
  }, { timeout: 120_000 });

  after(async () => {
    admin?.destroy();
    await rgw?.stop();
    if (work) await rm(work, { recursive: true, force: true });
  });

  describeBlobStore('S3 (radosgw)', async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'pullgate-s3-spool-'));
    return {
      store: storeOn(storageOf(rgw, 'conformance')),
      temp: new DiskTempFiles(dataDir),
      multipartThreshold,
      close: () => rm(dataDir, { recursive: true, force: true }),
    };
  });

  test('blobs live under <prefix>blobs/sha256/<two hex>/<hex>, and list skips stray objects under the prefix', async () => {
    const store = storeOn(storageOf(rgw, 'extras', { prefix: 'team-a/' }));
    const blob = blobOf('layout', 1_000);
    const temp = join(work, 'layout.part');
    await writeFile(temp, blob.bytes);
    await store.commit(blob.digest, temp);
    const hex = blob.digest.slice('sha256:'.length);
    const head = await admin.send(new HeadObjectCommand({ Bucket: 'extras', Key: `team-a/blobs/sha256/${hex.slice(0, 2)}/${hex}` }));
    assert.equal(head.ContentLength, 1_000);
    for (const Key of ['team-a/blobs/sha256/zz/notadigest', `team-a/blobs/sha256/00/${hex}`, 'team-a/blobs/readme.txt']) {
      await admin.send(new PutObjectCommand({ Bucket: 'extras', Key, Body: 'stray' }));
    }
    const listed = [];
    for await (const entry of store.list()) listed.push(entry);
    assert.deepEqual(listed, [{ digest: blob.digest, size: 1_000 }]);
  });

  test('a blob above the threshold is uploaded in parts (its ETag names the part count)', async () => {
    const store = storeOn(storageOf(rgw, 'extras', { prefix: 'parts/' }));
    const blob = blobOf('parts', 12 * mib);
    const temp = join(work, 'parts.part');
    await writeFile(temp, blob.bytes);
    await store.commit(blob.digest, temp);
    const head = await admin.send(new HeadObjectCommand({ Bucket: 'extras', Key: store.keyOf(blob.digest) }));
    assert.match(head.ETag ?? '', /-3"?$/, '12 MiB in 5 MiB parts is three parts');
    assert.equal(head.ContentLength, 12 * mib);
  });

  test('wrong credentials fail with OBJECT_STORE_DENIED, logged with the S3 request id and without the secret', async () => {
    const lines: string[] = [];
    const secret = 'not-the-secret-at-all-0123456789';
    const store = storeOn(storageOf(rgw, 'conformance', { secretAccessKey: secret }), lines);
    const err = await store.stat(blobOf('denied', 1).digest).then(() => undefined, (e: unknown) => e);
    assert.ok(err instanceof ObjectStoreError, String(err));
    assert.equal(err.code, 'OBJECT_STORE_DENIED');
    assert.equal(err.operation, 'HeadObject');
    await assert.rejects(store.check(), (e: unknown) => e instanceof ObjectStoreError && e.code === 'OBJECT_STORE_DENIED');
    const getErr = await store.open(blobOf('denied', 1).digest).then(() => undefined, (e: unknown) => e);
    assert.ok(getErr instanceof ObjectStoreError && getErr.code === 'OBJECT_STORE_DENIED');
    assert.match(getErr.details.requestId ?? '', /^tx/, 'radosgw request ids start with tx');
    const logged = lines.map((l) => JSON.parse(l) as { code?: string; requestId?: string; msg?: string });
    assert.ok(logged.some((l) => l.code === 'OBJECT_STORE_DENIED' && l.requestId === getErr.details.requestId));
    assert.ok(!lines.join('\n').includes(secret));
    assert.ok(!lines.join('\n').includes(rgw.secretAccessKey));
  });

  test('a bucket that does not exist fails the start-up check with OBJECT_STORE_NO_BUCKET', async () => {
    const store = storeOn(storageOf(rgw, 'no-such-bucket'));
    await assert.rejects(store.check(), (e: unknown) => e instanceof ObjectStoreError && e.code === 'OBJECT_STORE_NO_BUCKET');
    const temp = join(work, 'nobucket.part');
    const blob = blobOf('nobucket', 100);
    await writeFile(temp, blob.bytes);
    await assert.rejects(store.commit(blob.digest, temp), (e: unknown) => e instanceof ObjectStoreError && e.code === 'OBJECT_STORE_NO_BUCKET');
  });

  test('an endpoint nobody listens on fails with OBJECT_STORE_UNREACHABLE', async () => {
    const store = storeOn(storageOf(rgw, 'conformance', { endpoint: 'http://127.0.0.1:1' }));
    await assert.rejects(store.stat(blobOf('unreachable', 1).digest), (e: unknown) => e instanceof ObjectStoreError && e.code === 'OBJECT_STORE_UNREACHABLE');
  });
});
