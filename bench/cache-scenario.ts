// BENCH_SCENARIO=cache: every server side by side in one run. One upstream WITHOUT auth for every path (nginx
// cannot do the token dance), three servers in front of it (Pullgate, nginx proxy_cache, docker-registry proxy),
// per run, client (undici in this process, curl) and server: a fresh instance, a cold and a warm single pull of
// the big blob; then cached-tag HEAD load, and on a fresh instance N concurrent cold pulls of a second blob.
// Direct pulls give the baseline. Alternating order, medians in cache-report.ts.
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { pushFixtures } from '../test/support/fixture-images.js';
import { writeLargeBlob, type LargeBlob } from '../test/support/large-blob.js';
import type { IssuedCert } from '../test/support/pki.js';
import { startRealRegistry, type RealRegistry } from '../test/support/real-registry.js';
import { concRepo, concurrency, measured, pullWith, withPeer, type Client, type Ctx, type Peer, type Running } from './cache-context.js';
import type { ConcurrentPulls } from './concurrent.js';
import type { BenchConfig } from './config.js';
import { verifyOnce } from './curl-client.js';
import { headLoad, type HeadLoad } from './head-load.js';
import type { ClientOptions } from './light-client.js';
import type { PathName, PathRun } from './measure.js';
import { cpuSeconds, findPid, memory } from './proc-stats.js';
import { startNodeFloor, type FloorKind } from './node-floor.js';
import { MiB } from './stats.js';
import { hitRepo, runWorkersPart, type WorkersResults } from './workers-scenario.js';

const bigRepo = 'bench/big';
const firstRepo = 'bench/first';
/** The first blob's size: enough bytes to run every step of a fill's byte path, few enough to cost nothing. */
const firstBytes = 4 * MiB;

/**
 * The instance's first request: a cold pull of the small blob. The measured cold pull then meets a running server
 * with an empty cache, as a mirror's cache misses do (its code loaded and compiled by earlier requests), not a
 * process that has never run a request; what that first request costs is reported apart (firstTtfbMs). Every
 * server gets the same.
 */
async function firstPull(c: Ctx, client: Client, url: string): Promise<number> {
  return (await pullWith(c, client, url, firstRepo, c.first)()).ttfbMs;
}
export const manifestPath = '/v2/library/alpine/manifests/3.20';

export interface CacheResults {
  singles: PathRun[];
  conc: (PathRun & { pulls: ConcurrentPulls })[];
  heads: { peer: Peer; run: number; load: HeadLoad; serverCpu: number; upstreamCpu: number }[];
  /** The workers part: cache-hit load and cold pulls with 1 and N worker processes. */
  workers: WorkersResults;
  big: LargeBlob;
  concBlob: LargeBlob;
  /** The single-pull clients, in the order run. */
  clients: Client[];
}

const warmPath: Record<Peer, PathName> = { mirror: 'mirror-warm', nginx: 'nginx-warm', proxy: 'proxy-warm' };

/** A fresh instance: its idle RSS, a cold pull and a warm pull of the big blob with one client. */
async function coldAndWarm(c: Ctx, s: Running, peer: Peer, runNo: number, client: Client, out: CacheResults, big: LargeBlob): Promise<void> {
  const idle = (await memory(s.pid)).rss;
  const firstTtfbMs = await firstPull(c, client, s.url);
  const cold = await measured(c, peer, runNo, s.pid, pullWith(c, client, s.url, bigRepo, big), client);
  cold.serverIdleRss = idle;
  cold.firstTtfbMs = firstTtfbMs;
  out.singles.push(cold);
  out.singles.push(await measured(c, warmPath[peer], runNo, s.pid, pullWith(c, client, s.url, bigRepo, big), client));
  if (client === 'curl' && runNo === 1) await verifyOnce(s.url, bigRepo, big, c.client);
}

async function headsOn(c: Ctx, s: Running, peer: Peer, runNo: number, out: CacheResults): Promise<void> {
  const [server0, upstream0] = [await cpuSeconds(s.pid), await cpuSeconds(c.upstreamPid)];
  const load = await headLoad({ baseUrl: s.url, path: manifestPath, ca: c.reg.ca.caCertPem, digest: c.manifestDigest, total: c.cfg.headRequests, connections: c.cfg.headConnections });
  c.log(`  ${peer} HEAD: ${load.perSecond.toFixed(0)} req/s, p99 ${load.p99Ms.toFixed(1)} ms, ${load.errors} errors`);
  const [serverCpu, upstreamCpu] = [(await cpuSeconds(s.pid)) - server0, (await cpuSeconds(c.upstreamPid)) - upstream0];
  out.heads.push({ peer, run: runNo, load, serverCpu, upstreamCpu });
}

/** A cold pull through the bare Node.js pass-through (bench/node-floor.ts): the runtime's share of a cold pull's cost. */
async function floorPull(c: Ctx, kind: FloorKind, runNo: number, client: Client, big: LargeBlob): Promise<PathRun> {
  const dir = join(c.tmp, `floor-${kind}-${runNo}-${client}`);
  const f = await startNodeFloor({ dir, reg: c.reg, cert: c.certs.mirror, kind });
  try {
    const idle = (await memory(f.child.pid)).rss;
    const firstTtfbMs = await firstPull(c, client, f.url);
    const r = await measured(c, kind === 'direct' ? 'floor-direct' : 'floor', runNo, f.child.pid, pullWith(c, client, f.url, bigRepo, big), client);
    r.serverIdleRss = idle;
    r.firstTtfbMs = firstTtfbMs;
    return r;
  } catch (err) {
    throw new Error(`${(err as Error).message}\n--- node floor output (tail) ---\n${f.child.output().slice(-4000)}`);
  } finally {
    await f.child.stop();
    await rm(dir, { recursive: true, force: true });
  }
}

/** Per client a fresh instance (so every cold pull is cold): cold and warm pulls; HEAD load on the last one. */
async function singleAndHeads(c: Ctx, peer: Peer, runNo: number, out: CacheResults, big: LargeBlob): Promise<void> {
  const parts = c.cfg.cacheParts;
  // Without single pulls, one instance for the HEAD load alone.
  const clients = parts.includes('singles') ? c.clients : parts.includes('heads') ? c.clients.slice(-1) : [];
  for (const [k, client] of clients.entries()) {
    await withPeer(c, peer, join(c.tmp, `${peer}-${runNo}-${client}`), undefined, async (s) => {
      if (parts.includes('singles')) await coldAndWarm(c, s, peer, runNo, client, out, big);
      if (parts.includes('heads') && k === clients.length - 1) await headsOn(c, s, peer, runNo, out);
    });
  }
}

/** The upstream, its blobs and the servers' certificates. */
async function prepare(o: { cfg: BenchConfig; tmp: string; mirrorRoot: string; log: (m: string) => void; cleanup: (step: () => Promise<unknown>) => void }): Promise<{ c: Ctx; big: LargeBlob; conc: LargeBlob; hits: LargeBlob }> {
  const { cfg, log } = o;
  log('cache scenario: starting an upstream WITHOUT auth (docker-registry + CDN) and pushing fixtures');
  const reg: RealRegistry = await startRealRegistry({ auth: false, ...(cfg.upstreamBytesPerSecond > 0 ? { cdnBytesPerSecond: cfg.upstreamBytesPerSecond } : {}) });
  o.cleanup(() => reg.stop());
  const upstreamPid = await findPid('docker-registry', 'serve', join(reg.dir, 'config.yml'));
  const fixtures = await pushFixtures(reg);
  log(`writing blobs (${cfg.sizeBytes / MiB}, ${cfg.concBytes / MiB} and ${cfg.workers.hitBytes / MiB} MiB)`);
  const big = await writeLargeBlob(reg, bigRepo, cfg.sizeBytes, 'cache-big');
  const conc = await writeLargeBlob(reg, concRepo, cfg.concBytes, 'cache-conc');
  const hits = await writeLargeBlob(reg, hitRepo, cfg.workers.hitBytes, 'cache-hits');
  const first = await writeLargeBlob(reg, firstRepo, firstBytes, 'cache-first');
  const issue = (name: Peer): Promise<IssuedCert> => reg.ca.issue(`bench-${name}`, [`${name}.bench.test`, 'localhost'], ['127.0.0.1']);
  const [mirror, nginx, proxy] = await Promise.all([issue('mirror'), issue('nginx'), issue('proxy')]);
  const client: ClientOptions = { ca: reg.ca.caCertPem, h2: cfg.h2, timeoutMs: Math.max(120_000, (cfg.sizeBytes / 20e6) * 1000) };
  const choice = cfg.client ?? 'both';
  const clients: Client[] = choice === 'both' ? ['undici', 'curl'] : [choice];
  const c: Ctx = { cfg, reg, tmp: o.tmp, upstreamPid, client, clients, mirrorRoot: o.mirrorRoot, certs: { mirror, nginx, proxy }, manifestDigest: fixtures.alpine.digest, first, log };
  return { c, big, conc, hits };
}

export async function runCacheScenario(o: { cfg: BenchConfig; tmp: string; mirrorRoot: string; log: (m: string) => void; cleanup: (step: () => Promise<unknown>) => void }): Promise<CacheResults> {
  const { cfg, log } = o;
  const { c, big, conc, hits } = await prepare(o);
  const out: CacheResults = { singles: [], conc: [], heads: [], workers: { hits: [], cold: [], n: cfg.workers.n, hitBlob: hits, concBlob: conc }, big, concBlob: conc, clients: c.clients };
  const parts = cfg.cacheParts;
  for (let i = 0; i < cfg.runs; i++) {
    const runNo = i + 1;
    const peers = cfg.cachePeers.map((_, k) => cfg.cachePeers[(k + i) % cfg.cachePeers.length] as Peer);
    log(`cache run ${runNo}/${cfg.runs}: ${parts.includes('singles') ? 'direct, then ' : ''}${peers.join(', ')} (${parts.join(', ')})`);
    if (parts.includes('singles')) for (const cl of c.clients) out.singles.push(await measured(c, 'direct', runNo, undefined, pullWith(c, cl, 'direct', bigRepo, big), cl));
    if (parts.includes('singles') && c.cfg.floor) for (const kind of ['undici', 'direct'] as const) for (const cl of c.clients) out.singles.push(await floorPull(c, kind, runNo, cl, big));
    for (const peer of peers) await singleAndHeads(c, peer, runNo, out, big);
    if (parts.includes('conc')) {
      for (const peer of peers) out.conc.push(await withPeer(c, peer, join(c.tmp, `${peer}-conc-${runNo}`), undefined, (s) => concurrency(c, s, `${peer}-conc`, runNo, conc)));
    }
    if (parts.includes('workers')) await runWorkersPart(c, runNo, peers, out.workers);
  }
  return out;
}
