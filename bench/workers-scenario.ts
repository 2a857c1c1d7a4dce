// The cache scenario's workers part (docs/workers.md): per run, Pullgate with `workers: 1` (one process) and
// `workers: N`, and nginx with `worker_processes 1` and N (a master and its workers), each a fresh instance over
// TLS: one pull fills the cache (hashed: the digest is checked), then the load generator GETs the cached blob over
// many keep-alive connections (bench/hit-throughput.ts) while the server's process tree and the generator are
// measured from /proc. Then BENCH_CONC_CLIENTS concurrent cold pulls through N workers: one upstream GET for the
// machine however the clients are spread over the workers (the others follow the holder's fill).
import { join } from 'node:path';
import type { LargeBlob } from '../test/support/large-blob.js';
import { concurrency, withPeer, type Ctx, type Peer, type Running } from './cache-context.js';
import type { ConcurrentPulls } from './concurrent.js';
import { hitLoad, type HitRun } from './hit-throughput.js';
import { pullFrom } from './light-client.js';
import type { PathRun } from './measure.js';
import { waitForQuiet } from './proc-stats.js';

export const hitRepo = 'bench/hits';

/** The servers of the workers part: the ones that can run several processes on one cache. */
export type WorkersServer = Extract<Peer, 'mirror' | 'nginx'>;

export interface HitRow {
  server: WorkersServer;
  workers: number;
  run: number;
  hit: HitRun;
  /** Upstream blob GETs during the instance's life (the fill: 1). */
  upstreamGets: number;
  /** Pullgate: how many worker processes served requests of the load. */
  servedBy?: number;
}

export type ColdRow = PathRun & { pulls: ConcurrentPulls; server: WorkersServer; workers: number; servedBy?: number };

export interface WorkersResults {
  n: number;
  hitBlob: LargeBlob;
  concBlob: LargeBlob;
  hits: HitRow[];
  cold: ColdRow[];
}

/** Distinct worker slots in the access lines of requests for `digest` (Pullgate with several workers). */
function servedBy(s: Running, digest: string): number | undefined {
  const slots = new Set(s.accessLines?.filter((l) => l.url.includes(digest)).map((l) => l.worker ?? 0));
  return s.accessLines ? slots.size : undefined;
}

async function hitsOn(c: Ctx, server: WorkersServer, workers: number, runNo: number, out: WorkersResults): Promise<void> {
  const w = c.cfg.workers;
  const from = c.reg.cdn.requests.length;
  const row = await withPeer(c, server, join(c.tmp, `${server}-x${workers}-hits-${runNo}`), workers, async (s) => {
    await pullFrom(s.url, hitRepo, out.hitBlob, c.client);
    if (!(await waitForQuiet({ timeoutMs: c.cfg.quietTimeoutMs }))) c.log('  the machine did not get quiet; measuring anyway');
    const path = `/v2/${hitRepo}/blobs/${out.hitBlob.digest}`;
    const hit = await hitLoad({ serverPid: s.pid, url: s.url, path, size: out.hitBlob.size, caFile: c.reg.caFile, connections: w.connections, threads: w.threads, warmupSeconds: w.warmupSeconds, seconds: w.seconds });
    const by = servedBy(s, out.hitBlob.digest);
    return { server, workers, run: runNo, hit, upstreamGets: 0, ...(by === undefined ? {} : { servedBy: by }) };
  });
  row.upstreamGets = c.reg.cdn.requests.slice(from).filter((r) => r.method === 'GET').length;
  const h = row.hit;
  c.log(`  ${server} x${workers} hits: ${(h.bytes / 1e6 / h.wall).toFixed(0)} MB/s, server ${(h.serverCpu / (h.bytes / 1e9)).toFixed(2)} CPU-s/GB on ${(h.serverCpu / h.wall).toFixed(2)} cores, generator ${(h.generatorCpu / h.wall).toFixed(2)} cores`);
  out.hits.push(row);
}

async function coldThroughWorkers(c: Ctx, server: WorkersServer, runNo: number, out: WorkersResults): Promise<void> {
  const dir = join(c.tmp, `${server}-x${out.n}-conc-${runNo}`);
  const row = await withPeer(c, server, dir, out.n, async (s) => {
    const r = await concurrency(c, s, `${server}-workers-conc`, runNo, out.concBlob);
    const by = servedBy(s, out.concBlob.digest);
    return { ...r, server, workers: out.n, ...(by === undefined ? {} : { servedBy: by }) };
  });
  out.cold.push(row);
}

/** One run of the workers part; the order of the worker counts alternates between runs, the servers rotate. */
export async function runWorkersPart(c: Ctx, runNo: number, peers: Peer[], out: WorkersResults): Promise<void> {
  const servers = peers.filter((p): p is WorkersServer => p === 'mirror' || p === 'nginx');
  const counts = [...new Set([1, out.n])];
  if (runNo % 2 === 0) counts.reverse();
  c.log(`  workers part: cache hits with ${counts.join(' and ')} worker process(es), then cold pulls through ${out.n}`);
  for (const workers of counts) for (const server of servers) await hitsOn(c, server, workers, runNo, out);
  for (const server of servers) await coldThroughWorkers(c, server, runNo, out);
}
