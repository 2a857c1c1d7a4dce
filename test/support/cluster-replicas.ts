// Several in-process Pullgate replicas sharing one radosgw bucket with a `cluster` block each: free loopback ports
// for their internal endpoints (advertised before they listen), one shared secret.
import { randomBytes } from 'node:crypto';
import { CreateBucketCommand, ListObjectsV2Command, type S3Client } from '@aws-sdk/client-s3';
import { createS3Client } from '../../src/cache/s3-client.js';
import { freePort } from './loopback-listener.js';
import { startMirror, type StartOptions, type TestMirror } from './mirror-app.js';
import { rgwStorage, type Radosgw } from './radosgw.js';

export interface BucketSetup {
  s3: S3Client;
  bucket: string;
  prefix: string;
  storage: Record<string, unknown>;
  /** Every key under the prefix (and its size). */
  keys(): Promise<Array<{ key: string; size: number }>>;
}

export async function createBucket(rgw: Radosgw, bucket: string, prefix = 'cluster/'): Promise<BucketSetup> {
  const storage = rgwStorage(rgw, bucket, prefix);
  const s3 = createS3Client({ ...storage, multipartThreshold: 16 << 20, partSize: 8 << 20 } as Parameters<typeof createS3Client>[0], { connectMs: 2_000, idleMs: 10_000 });
  await s3.send(new CreateBucketCommand({ Bucket: bucket }));
  return {
    s3,
    bucket,
    prefix,
    storage,
    async keys() {
      const out: Array<{ key: string; size: number }> = [];
      let token: string | undefined;
      do {
        const page = await s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, ...(token ? { ContinuationToken: token } : {}) }));
        for (const o of page.Contents ?? []) out.push({ key: o.Key ?? '', size: o.Size ?? 0 });
        token = page.IsTruncated ? page.NextContinuationToken : undefined;
      } while (token);
      return out;
    },
  };
}

export interface ClusterOptions {
  replicas: number;
  bucket: BucketSetup;
  upstreams: Array<Record<string, unknown>>;
  leaseTtl?: string;
  secret?: string;
  extra?: Record<string, unknown>;
  /** Options of every replica's app (an injected clock, the watch timer). */
  mirrorOptions?: StartOptions;
}

export interface Replicas {
  mirrors: TestMirror[];
  secret: string;
  close(): Promise<void>;
}

export async function startReplicas(o: ClusterOptions): Promise<Replicas> {
  const secret = o.secret ?? randomBytes(32).toString('hex');
  const mirrors: TestMirror[] = [];
  try {
    for (let i = 0; i < o.replicas; i++) {
      const port = await freePort();
      mirrors.push(
        await startMirror({
          upstreams: o.upstreams,
          cache: { storage: o.bucket.storage },
          cluster: { listen: `127.0.0.1:${port}`, advertise: `http://127.0.0.1:${port}`, secret, leaseTtl: o.leaseTtl ?? '3s' },
          ...o.extra,
        }, o.mirrorOptions),
      );
    }
  } catch (err) {
    await Promise.all(mirrors.map((m) => m.close()));
    throw err;
  }
  return { mirrors, secret, close: async () => void (await Promise.all(mirrors.map((m) => m.close()))) };
}
