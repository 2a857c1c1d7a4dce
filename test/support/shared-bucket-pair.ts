// Two Pullgate replicas sharing one cache in a real S3 bucket (docs/storage.md, "The shared catalog"): a real radosgw,
// a real docker-registry upstream (token auth, CDN redirects) with the fixtures pushed, and replicas A and B in this
// process, each with its own data directory (its own SQLite index), an HTTP, an HTTPS and an admin listener. Two
// upstream entries point at the one registry: `hub` (the default, tagTtl 5m) and `quick` (`quick.pullgate.test` by path
// prefix, tagTtl 2s), so a tag another replica validated is fresh on one and due for revalidation on the other.
import { createHash } from 'node:crypto';
import { rm } from 'node:fs/promises';
import { CreateBucketCommand, GetObjectCommand, HeadObjectCommand, ListObjectsV2Command, type S3Client } from '@aws-sdk/client-s3';
import { request } from 'undici';
import { createS3Client } from '../../src/cache/s3-client.js';
import { fullManifestAccept } from '../../src/registry/media-types.js';
import { AdminClient } from './admin-client.js';
import { pushFixtures, type Fixtures } from './fixture-images.js';
import { startMirror, type TestMirror } from './mirror-app.js';
import { parseAccessLines, type AccessLine } from './pull-through-setup.js';
import { startRadosgw, type Radosgw } from './radosgw.js';
import { startRealRegistry, type RealRegistry } from './real-registry.js';

export const adminPassword = 'shared-bucket-admin-password';
export const bucket = 'pullgate-shared';
export const prefix = 'cluster/';

export interface Replica {
  mirror: TestMirror;
  admin: AdminClient;
  /** This replica's id in the bucket (`<prefix>replicas/<id>`). */
  id: string;
  /** `127.0.0.1:PORT` of the HTTPS listener, for skopeo references. */
  httpsHost: string;
  accessLines(from?: number): AccessLine[];
}

export interface SharedBucketPair {
  rgw: Radosgw;
  s3: S3Client;
  reg: RealRegistry;
  fixtures: Fixtures;
  a: Replica;
  b: Replica;
  /** Starts one more replica on the same bucket (its own data directory), stopped with the pair. */
  startReplica(): Promise<Replica>;
  /** Bucket keys under the prefix, e.g. `manifests/`, `tags/`, `blobs/`. */
  keys(under: string): Promise<string[]>;
  object(key: string): Promise<{ bytes: Buffer; contentType?: string } | undefined>;
  exists(key: string): Promise<boolean>;
  /** Stops docker-registry, its token server and its CDN; its CA and certificates stay until stop(). */
  stopUpstream(): Promise<void>;
  stop(): Promise<void>;
}

export const manifestKey = (digest: string): string => `${prefix}manifests/sha256/${digest.slice(7, 9)}/${digest.slice(7)}`;
export const blobKey = (digest: string): string => `${prefix}blobs/sha256/${digest.slice(7, 9)}/${digest.slice(7)}`;
export const tagKey = (upstream: string, repository: string, tag: string): string => `${prefix}tags/${upstream}/${repository}/_tags/${tag}`;

export async function startSharedBucketPair(): Promise<SharedBucketPair> {
  const cleanups: Array<() => Promise<unknown>> = [];
  const stop = async (): Promise<void> => {
    for (const step of cleanups.reverse()) await step().catch(() => undefined);
  };
  try {
    const rgw = await startRadosgw();
    cleanups.push(() => rgw.stop());
    const storage = { type: 's3', endpoint: rgw.endpoint, region: rgw.region, bucket, prefix, accessKeyId: rgw.accessKeyId, secretAccessKey: rgw.secretAccessKey, forcePathStyle: true } as const;
    const s3 = createS3Client({ ...storage, multipartThreshold: 16 << 20, partSize: 8 << 20 }, { connectMs: 2_000, idleMs: 10_000 });
    cleanups.push(async () => s3.destroy());
    await s3.send(new CreateBucketCommand({ Bucket: bucket }));
    const reg = await startRealRegistry({ keepDir: true });
    cleanups.push(() => rm(reg.dir, { recursive: true, force: true }));
    cleanups.push(() => reg.stop());
    const fixtures = await pushFixtures(reg);
    const cert = await reg.ca.issue('pullgate-replicas', ['localhost'], ['127.0.0.1']);
    const config = {
      listen: { http: '127.0.0.1:0', https: '127.0.0.1:0', admin: '127.0.0.1:0' },
      tls: { certificates: [{ cert: cert.certPath, key: cert.keyPath }] },
      upstreams: [
        { name: 'hub', registry: 'docker.io', url: reg.url, ca: reg.caFile, default: true },
        { name: 'quick', registry: 'quick.pullgate.test', url: reg.url, ca: reg.caFile, tagTtl: '2s' },
      ],
      cache: { storage },
    };
    const replica = async (): Promise<Replica> => {
      const mirror = await startMirror(config, { adminPassword });
      cleanups.push(() => mirror.close());
      const admin = new AdminClient(mirror.adminUrl ?? '');
      const login = await admin.login(adminPassword);
      if (login.status !== 200) throw new Error(`admin login failed: ${login.text}`);
      const id = mirror.app.cache.bucket?.replica;
      if (!id) throw new Error('the replica has no bucket: cache.storage is not s3');
      return {
        mirror,
        admin,
        id,
        httpsHost: new URL(mirror.httpsUrl ?? '').host,
        accessLines: (from = 0) => parseAccessLines(mirror.logs.slice(from)),
      };
    };
    const a = await replica();
    const b = await replica();

    const object = async (key: string) => {
      try {
        const res = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
        const bytes = Buffer.from((await res.Body?.transformToByteArray()) ?? new Uint8Array());
        return { bytes, ...(res.ContentType ? { contentType: res.ContentType } : {}) };
      } catch (err) {
        if ((err as { name?: string }).name === 'NoSuchKey') return undefined;
        throw err;
      }
    };
    return {
      rgw,
      s3,
      reg,
      fixtures,
      a,
      b,
      startReplica: replica,
      async keys(under) {
        const out: string[] = [];
        let token: string | undefined;
        do {
          const page = await s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix + under, ...(token ? { ContinuationToken: token } : {}) }));
          out.push(...(page.Contents ?? []).map((o) => o.Key ?? ''));
          token = page.IsTruncated ? page.NextContinuationToken : undefined;
        } while (token);
        return out.sort();
      },
      object,
      async exists(key) {
        try {
          await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: key }));
          return true;
        } catch (err) {
          if ((err as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode === 404) return false;
          throw err;
        }
      },
      stopUpstream: () => reg.stop(),
      stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}

export interface Fetched {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  bytes: Buffer;
}

/** GET through a replica's HTTP listener (every manifest type accepted). */
export async function get(replica: Replica, path: string): Promise<Fetched> {
  const res = await request(`${replica.mirror.url}${path}`, { headers: { accept: fullManifestAccept } });
  const chunks: Buffer[] = [];
  for await (const chunk of res.body) chunks.push(chunk as Buffer);
  return { status: res.statusCode, headers: res.headers, bytes: Buffer.concat(chunks) };
}

export const sha256 = (bytes: Buffer): string => `sha256:${createHash('sha256').update(bytes).digest('hex')}`;

/** Waits until the replica's blob store holds `digest` (a fill commits after the client got its last byte). */
export async function committed(replica: Replica, digest: string): Promise<void> {
  const store = replica.mirror.app.cache.store;
  for (let i = 0; i < 400; i++) {
    if ((await store.stat(digest as Parameters<typeof store.stat>[0])) !== undefined) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`${digest} was not committed within 20 s`);
}
