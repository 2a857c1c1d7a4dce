// `npm run bench:cluster`: three Pullgate replicas (separate processes) sharing one S3 bucket (Ceph radosgw on this
// machine) in front of a real docker-registry whose blobs come from a CDN-like host. Per run (BENCH_RUNS, default
// 3) a new cold blob of BENCH_SIZE_MB (default 512) is pulled by 16 concurrent curl clients spread round-robin over
// the replicas (or through BENCH_CLUSTER_URL, e.g. a load balancer). Reported, medians over runs: upstream blob
// fetches (the CDN's own log; goal 1), the slowest client's first body byte (goal under 1 s), total time, the
// object store's requests for that blob (radosgw's log: leases, upload, reads), then cache-hit throughput through
// each replica from the bucket, and the replicas' peak RSS.
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createBucket } from '../test/support/cluster-replicas.js';
import { writeLargeBlob } from '../test/support/large-blob.js';
import { freePort } from '../test/support/loopback-listener.js';
import { spawnMirror, type MirrorProcess } from '../test/support/mirror-process.js';
import { startRadosgw } from '../test/support/radosgw.js';
import { startRealRegistry } from '../test/support/real-registry.js';
import { concurrentPulls } from './concurrent.js';
import { pullFrom } from './light-client.js';

const sizeMb = Number(process.env['BENCH_SIZE_MB'] ?? 512);
const runs = Number(process.env['BENCH_RUNS'] ?? 3);
const clients = Number(process.env['BENCH_CLIENTS'] ?? 16);
const log = (msg: string): void => void process.stderr.write(`[bench cluster] ${msg}\n`);
const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? NaN;

async function peakRssMiB(pid: number | undefined): Promise<number> {
  if (pid === undefined) return NaN;
  const status = await readFile(`/proc/${pid}/status`, 'utf8').catch(() => '');
  const kb = /VmHWM:\s+(\d+) kB/.exec(status);
  return kb ? Number(kb[1]) / 1024 : NaN;
}

const rgw = await startRadosgw();
const reg = await startRealRegistry();
const dir = await mkdtemp(join(tmpdir(), 'pullgate-bench-cluster-'));
const replicas: MirrorProcess[] = [];
try {
  const bucket = await createBucket(rgw, 'bench-cluster', 'c/');
  const secret = randomBytes(32).toString('hex');
  for (let i = 0; i < 3; i++) {
    const port = await freePort();
    replicas.push(
      await spawnMirror(await mkdtemp(join(dir, `r${i}-`)), {
        log: { level: 'info' },
        upstreams: [{ name: 'hub', registry: 'docker.io', url: reg.url, ca: reg.caFile, default: true }],
        cache: { storage: bucket.storage },
        cluster: { listen: `127.0.0.1:${port}`, advertise: `http://127.0.0.1:${port}`, secret, leaseTtl: '10s' },
      }),
    );
  }
  const urls = process.env['BENCH_CLUSTER_URL'] ? [process.env['BENCH_CLUSTER_URL']] : replicas.map((r) => r.url);
  log(`3 replicas (${replicas.map((r) => r.url).join(' ')}), clients via ${urls.join(' ')}; ${clients} clients, ${sizeMb} MiB, ${runs} runs`);

  const fetches: number[] = [];
  const slowestTtfb: number[] = [];
  const totals: number[] = [];
  const storeRequests: number[] = [];
  const hitMBps: number[] = [];
  for (let run = 0; run < runs; run++) {
    const blob = await writeLargeBlob(reg, 'bench/cluster', sizeMb * 1024 * 1024, `cluster-${run}-${Date.now()}`);
    const hex = blob.digest.slice(7);
    const path = `/v2/bench/cluster/blobs/${blob.digest}`;
    const cdnBefore = reg.cdn.requests.length;
    const rgwBefore = (await rgw.requests()).length;
    const result = await concurrentPulls(urls.map((u) => u + path), blob, { clients, caFile: reg.caFile, timeoutMs: 600_000 });
    const upstream = reg.cdn.requests.slice(cdnBefore).filter((r) => r.method === 'GET' && r.path.includes(hex)).length;
    // The upload runs after the clients have their bytes: wait for the object and the released lease.
    const blobKey = `${bucket.prefix}blobs/sha256/${hex.slice(0, 2)}/${hex}`;
    for (let i = 0; i < 1200; i++) {
      const keys = await bucket.keys();
      if (keys.some((k) => k.key === blobKey) && !keys.some((k) => k.key.includes(hex) && k.key.includes('/leases/'))) break;
      await new Promise((r) => setTimeout(r, 250));
    }
    const bucketRequests = (await rgw.requests()).slice(rgwBefore).filter((r) => r.path.includes(hex)).length;
    fetches.push(upstream);
    slowestTtfb.push(Math.max(...result.clients.map((c) => c.ttfbMs)));
    totals.push(result.totalMs);
    storeRequests.push(bucketRequests);
    log(`run ${run + 1}: first bytes (ms, by client) ${result.clients.map((c) => c.ttfbMs.toFixed(0)).join(' ')}`);
    log(`run ${run + 1}: upstream fetches ${upstream}, slowest first byte ${Math.max(...result.clients.map((c) => c.ttfbMs)).toFixed(0)} ms, total ${(result.totalMs / 1000).toFixed(2)} s, object store requests ${bucketRequests}`);
    // Cache hits from the bucket, through each replica in turn.
    for (const r of replicas) {
      const t = await pullFrom(r.url, 'bench/cluster', blob, { ca: reg.ca.caCertPem, timeoutMs: 600_000 });
      hitMBps.push(blob.size / 1e6 / (t.wallMs / 1000));
    }
  }
  const rss = await Promise.all(replicas.map((r) => peakRssMiB(r.child.pid)));
  const out = {
    sizeMiB: sizeMb,
    clients,
    runs,
    upstreamFetches: median(fetches),
    upstreamFetchesAll: fetches,
    slowestFirstByteMs: Math.round(median(slowestTtfb)),
    totalS: +(median(totals) / 1000).toFixed(2),
    objectStoreRequestsPerBlob: median(storeRequests),
    cacheHitFromBucketMBps: +median(hitMBps).toFixed(1),
    replicaPeakRssMiB: rss.map((x) => Math.round(x)),
  };
  process.stdout.write(`${JSON.stringify(out, null, 2)}\n`);
} finally {
  await Promise.all(replicas.map((r) => r.stop()));
  await reg.stop();
  await rgw.stop();
  await rm(dir, { recursive: true, force: true });
}
