// `node --import tsx bench/s3-storage.ts`: cache-hit throughput of one large blob through a mirror whose blobs live
// on the local disk vs in an S3 bucket (Ceph radosgw on this machine), streamed through the replica or handed out as
// a 307 to a presigned URL that the client follows to the bucket (`redirect: true`), medians of BENCH_RUNS (default
// 3), and the object store's requests per blob served (radosgw's own access log). The mirrors run in this process on
// loopback, over TLS (radosgw plain http), with the same undici client discarding the bytes: the figures compare the
// storages, not clients.
import { createHash } from 'node:crypto';
import { CreateBucketCommand } from '@aws-sdk/client-s3';
import { Agent, request } from 'undici';
import { createS3Client } from '../src/cache/s3-client.js';
import { parseDigest } from '../src/registry/digest.js';
import { writeLargeBlob } from '../test/support/large-blob.js';
import { startMirror, type TestMirror } from '../test/support/mirror-app.js';
import { startRadosgw, type Radosgw } from '../test/support/radosgw.js';
import { startRealRegistry } from '../test/support/real-registry.js';

const sizeMb = Number(process.env['BENCH_SIZE_MB'] ?? 128);
const runs = Number(process.env['BENCH_RUNS'] ?? 3);
const log = (msg: string): void => void process.stderr.write(`[bench s3] ${msg}\n`);
const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? NaN;

/**
 * The read cache scenario (docs/storage.md, "The read cache"): the same bucket under a prefix of its own, with
 * `readCache`, so that its hits come from the replica's disk. The figures show what a local copy saves over a GET from
 * the bucket.
 */
function readCacheStorage(rgw: Radosgw, bucket: string): Record<string, unknown> {
  const { endpoint, region, accessKeyId, secretAccessKey } = rgw;
  return { type: 's3', endpoint, region, bucket, prefix: 'read-cache/', accessKeyId, secretAccessKey, forcePathStyle: true, readCache: { maxSize: '4GiB' } };
}

const rgw = await startRadosgw();
const reg = await startRealRegistry();
const mirrors: TestMirror[] = [];
try {
  const bucket = 'bench';
  const s3 = createS3Client(
    { type: 's3', endpoint: rgw.endpoint, region: rgw.region, bucket, prefix: '', accessKeyId: rgw.accessKeyId, secretAccessKey: rgw.secretAccessKey, forcePathStyle: true, multipartThreshold: 16 << 20, partSize: 8 << 20 },
    { connectMs: 2_000, idleMs: 10_000 },
  );
  await s3.send(new CreateBucketCommand({ Bucket: bucket }));
  s3.destroy();
  const blob = await writeLargeBlob(reg, 'bench/big', sizeMb * 1024 * 1024, 's3-bench');
  const cert = await reg.ca.issue('pullgate-bench', ['localhost'], ['127.0.0.1']);
  const agent = new Agent({ connect: { ca: reg.ca.caCertPem } });
  const base = {
    listen: { https: '127.0.0.1:0' },
    tls: { certificates: [{ cert: cert.certPath, key: cert.keyPath }] },
    upstreams: [{ name: 'hub', registry: 'docker.io', url: reg.url, ca: reg.caFile, default: true }],
  };
  const storages = {
    disk: { type: 'disk' },
    s3: { type: 's3', endpoint: rgw.endpoint, region: rgw.region, bucket, accessKeyId: rgw.accessKeyId, secretAccessKey: rgw.secretAccessKey, forcePathStyle: true },
    's3+readCache': readCacheStorage(rgw, bucket),
    // A prefix of its own: its first pull is a real cold fill, not a hit on what the s3 round stored.
    's3 redirect': { type: 's3', endpoint: rgw.endpoint, region: rgw.region, bucket, prefix: 'redirect/', accessKeyId: rgw.accessKeyId, secretAccessKey: rgw.secretAccessKey, forcePathStyle: true, redirect: true },
  };
  const results: Record<string, { coldS: number; warmMBps: number[]; s3Requests?: string }> = {};
  for (const [name, storage] of Object.entries(storages)) {
    const mirror = await startMirror({ ...base, cache: { storage } });
    mirrors.push(mirror);
    const url = `${mirror.httpsUrl}/v2/bench/big/blobs/${blob.digest}`;
    const pull = async (): Promise<number> => {
      const started = performance.now();
      let res = await request(url, { dispatcher: agent });
      // The client's side of a redirect: the 307 (no body) answered by a GET of the presigned URL, as clients do.
      if (res.statusCode === 307 && typeof res.headers.location === 'string') {
        await res.body.dump();
        res = await request(res.headers.location, { dispatcher: agent });
      }
      if (res.statusCode !== 200) throw new Error(`${name}: HTTP ${res.statusCode}`);
      const hash = createHash('sha256');
      for await (const chunk of res.body) hash.update(chunk as Buffer);
      if (`sha256:${hash.digest('hex')}` !== blob.digest) throw new Error(`${name}: digest mismatch`);
      return (performance.now() - started) / 1000;
    };
    const coldS = await pull();
    const digest = parseDigest(blob.digest);
    for (let i = 0; i < 600 && (await mirror.app.cache.store.stat(digest)) === undefined; i++) await new Promise((r) => setTimeout(r, 100));
    const before = (await rgw.requests()).length;
    const warm: number[] = [];
    for (let i = 0; i < runs; i++) warm.push(sizeMb / (await pull()));
    const during = (await rgw.requests()).slice(before).filter((r) => r.path.includes(blob.digest.slice(7)));
    const perBlob = (method: string) => during.filter((r) => r.method === method).length / runs;
    results[name] = { coldS, warmMBps: warm, ...(name.startsWith('s3') ? { s3Requests: `HEAD ${perBlob('HEAD')} + GET ${perBlob('GET')} per blob served` } : {}) };
    log(`${name}: cold ${coldS.toFixed(2)} s, warm ${warm.map((w) => w.toFixed(0)).join(', ')} MB/s`);
    await mirror.close();
    mirrors.pop();
  }
  await agent.close();
  process.stdout.write(`cache-hit throughput of a ${sizeMb} MiB blob over TLS, median of ${runs} (MiB/s):\n`);
  for (const [name, r] of Object.entries(results)) {
    process.stdout.write(`  ${name.padEnd(12)} ${median(r.warmMBps).toFixed(0).padStart(5)}  (runs: ${r.warmMBps.map((w) => w.toFixed(0)).join(', ')}; cold fill ${r.coldS.toFixed(2)} s)${r.s3Requests ? `; object store: ${r.s3Requests}` : ''}\n`);
  }
} finally {
  for (const m of mirrors) await m.close().catch(() => undefined);
  await reg.stop();
  await rgw.stop();
}
