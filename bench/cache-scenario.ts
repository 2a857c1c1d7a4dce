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
import { concurrentPulls, type ConcurrentPulls } from './concurrent.js';
import type { BenchConfig } from './config.js';
import { curlDirect, curlFrom, verifyOnce } from './curl-client.js';
import { headLoad, type HeadLoad } from './head-load.js';
import { pullDirect, pullFrom, type ClientOptions, type PullTiming } from './light-client.js';
import { measurePull, type PathName, type PathRun } from './measure.js';
import { startNginx } from './nginx.js';
import { startMirror, startProxy } from './peers.js';
import { cpuSeconds, findPid, memory, waitForQuiet } from './proc-stats.js';
import { MiB } from './stats.js';

export type Peer = 'mirror' | 'nginx' | 'proxy';
const bigRepo = 'bench/big';
const concRepo = 'bench/conc';
export const manifestPath = '/v2/library/alpine/manifests/3.20';

export interface CacheResults {
  singles: PathRun[];
  conc: (PathRun & { pulls: ConcurrentPulls })[];
  heads: { peer: Peer; run: number; load: HeadLoad; serverCpu: number; upstreamCpu: number }[];
  big: LargeBlob;
  concBlob: LargeBlob;
  /** The single-pull clients, in the order run. */
  clients: Client[];
}

export type Client = 'undici' | 'curl';

interface Ctx {
  cfg: BenchConfig;
  reg: RealRegistry;
  tmp: string;
  upstreamPid: number;
  client: ClientOptions;
  clients: Client[];
  mirrorRoot: string;
  certs: Record<Peer, IssuedCert>;
  manifestDigest: string;
  log: (msg: string) => void;
}

interface Running {
  url: string;
  pid: number;
  output: () => string;
  stop: () => Promise<void>;
}

async function startPeer(c: Ctx, peer: Peer, dir: string): Promise<Running> {
  if (peer === 'mirror') {
    const m = await startMirror({ root: c.mirrorRoot, dir, reg: c.reg, cert: c.certs.mirror, nodeArgs: c.cfg.mirrorNodeArgs });
    return { url: m.url, pid: m.child.pid, output: m.child.output, stop: () => m.child.stop() };
  }
  if (peer === 'nginx') {
    const n = await startNginx({ dir, reg: c.reg, cert: c.certs.nginx });
    return { url: n.url, pid: n.child.pid, output: n.child.output, stop: () => n.child.stop() };
  }
  // The upstream has no auth; the credentials are never asked for.
  const p = await startProxy({ dir, reg: c.reg, cert: c.certs.proxy, username: 'reader', password: c.reg.users['reader'] ?? '' });
  return { url: p.url, pid: p.child.pid, output: p.child.output, stop: () => p.child.stop() };
}

/** A pull with the chosen client (curl processes show up as `client` CPU, see proc-stats.ts snapshot). */
function pullWith(c: Ctx, client: Client, baseUrl: string | 'direct', repo: string, blob: LargeBlob): () => Promise<PullTiming> {
  const curlOpts = { caFile: c.reg.caFile, timeoutMs: c.client.timeoutMs };
  // undici direct: pullDirect's token GET is answered but not needed (no auth upstream); a few ms.
  if (client === 'undici') return () => (baseUrl === 'direct' ? pullDirect(c.reg, repo, blob, c.client) : pullFrom(baseUrl, repo, blob, c.client));
  return () => (baseUrl === 'direct' ? curlDirect(c.reg, repo, blob, curlOpts) : curlFrom(baseUrl, repo, blob, curlOpts));
}

async function measured(c: Ctx, path: PathName, runNo: number, pid: number | undefined, pull: () => Promise<PullTiming>, client?: Client): Promise<PathRun> {
  if (!(await waitForQuiet({ timeoutMs: c.cfg.quietTimeoutMs }))) c.log(`  the machine did not get quiet within ${c.cfg.quietTimeoutMs / 1000} s; measuring anyway`);
  const pids = new Map([['upstream', c.upstreamPid]]);
  if (pid !== undefined) pids.set('server', pid);
  const r = await measurePull({ path, run: runNo, cdn: c.reg.cdn, pids, pull, settleTimeoutMs: 300_000 });
  if (client !== undefined) r.client = client;
  c.log(`  ${path}${client === undefined ? '' : ` (${client})`}: ${(r.timing.wallMs / 1000).toFixed(2)} s, server CPU ${(r.cpuSettled['server'] ?? 0).toFixed(2)} s, ${r.fetches.gets} upstream GET(s)`);
  return r;
}

const warmPath: Record<Peer, PathName> = { mirror: 'mirror-warm', nginx: 'nginx-warm', proxy: 'proxy-warm' };

/** A fresh instance: its idle RSS, a cold pull and a warm pull of the big blob with one client. */
async function coldAndWarm(c: Ctx, s: Running, peer: Peer, runNo: number, client: Client, out: CacheResults, big: LargeBlob): Promise<void> {
  const idle = (await memory(s.pid)).rss;
  const cold = await measured(c, peer, runNo, s.pid, pullWith(c, client, s.url, bigRepo, big), client);
  cold.serverIdleRss = idle;
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

/** Per client a fresh instance (so every cold pull is cold): cold and warm pulls; HEAD load on the last one. */
async function singleAndHeads(c: Ctx, peer: Peer, runNo: number, out: CacheResults, big: LargeBlob): Promise<void> {
  for (const [k, client] of c.clients.entries()) {
    const dir = join(c.tmp, `${peer}-${runNo}-${client}`);
    const s = await startPeer(c, peer, dir);
    try {
      await coldAndWarm(c, s, peer, runNo, client, out, big);
      if (k === c.clients.length - 1) await headsOn(c, s, peer, runNo, out);
    } catch (err) {
      throw new Error(`${(err as Error).message}\n--- ${peer} output (tail) ---\n${s.output().slice(-4000)}`);
    } finally {
      await s.stop();
      await rm(dir, { recursive: true, force: true });
    }
  }
}

async function concurrency(c: Ctx, peer: Peer, runNo: number, out: CacheResults, blob: LargeBlob): Promise<void> {
  const dir = join(c.tmp, `${peer}-conc-${runNo}`);
  const s = await startPeer(c, peer, dir);
  try {
    let pulls: ConcurrentPulls | undefined;
    const url = `${s.url}/v2/${concRepo}/blobs/${blob.digest}`;
    const r = await measured(c, `${peer}-conc`, runNo, s.pid, async () => {
      pulls = await concurrentPulls(url, blob, { clients: c.cfg.concClients, caFile: c.reg.caFile, timeoutMs: c.client.timeoutMs * 4 });
      const slowest = Math.max(...pulls.clients.map((p) => p.ttfbMs));
      return { wallMs: pulls.totalMs, ttfbMs: slowest, bytes: pulls.clients.reduce((n, p) => n + p.bytes, 0) };
    });
    if (pulls === undefined) throw new Error('no concurrent pulls');
    out.conc.push({ ...r, pulls });
  } catch (err) {
    throw new Error(`${(err as Error).message}\n--- ${peer} output (tail) ---\n${s.output().slice(-4000)}`);
  } finally {
    await s.stop();
    await rm(dir, { recursive: true, force: true });
  }
}

export async function runCacheScenario(o: { cfg: BenchConfig; tmp: string; mirrorRoot: string; log: (m: string) => void; cleanup: (step: () => Promise<unknown>) => void }): Promise<CacheResults> {
  const { cfg, log } = o;
  log('cache scenario: starting an upstream WITHOUT auth (docker-registry + CDN) and pushing fixtures');
  const reg = await startRealRegistry({ auth: false, ...(cfg.upstreamBytesPerSecond > 0 ? { cdnBytesPerSecond: cfg.upstreamBytesPerSecond } : {}) });
  o.cleanup(() => reg.stop());
  const upstreamPid = await findPid('docker-registry', 'serve', join(reg.dir, 'config.yml'));
  const fixtures = await pushFixtures(reg);
  log(`writing blobs (${cfg.sizeBytes / MiB} MiB and ${cfg.concBytes / MiB} MiB)`);
  const big = await writeLargeBlob(reg, bigRepo, cfg.sizeBytes, 'cache-big');
  const conc = await writeLargeBlob(reg, concRepo, cfg.concBytes, 'cache-conc');
  const issue = (name: Peer): Promise<IssuedCert> => reg.ca.issue(`bench-${name}`, [`${name}.bench.test`, 'localhost'], ['127.0.0.1']);
  const [mirror, nginx, proxy] = await Promise.all([issue('mirror'), issue('nginx'), issue('proxy')]);
  const client: ClientOptions = { ca: reg.ca.caCertPem, h2: cfg.h2, timeoutMs: Math.max(120_000, (cfg.sizeBytes / 20e6) * 1000) };
  const choice = cfg.client ?? 'both';
  const clients: Client[] = choice === 'both' ? ['undici', 'curl'] : [choice];
  const c: Ctx = { cfg, reg, tmp: o.tmp, upstreamPid, client, clients, mirrorRoot: o.mirrorRoot, certs: { mirror, nginx, proxy }, manifestDigest: fixtures.alpine.digest, log };
  const out: CacheResults = { singles: [], conc: [], heads: [], big, concBlob: conc, clients };

  for (let i = 0; i < cfg.runs; i++) {
    const runNo = i + 1;
    const peers = cfg.cachePeers.map((_, k) => cfg.cachePeers[(k + i) % cfg.cachePeers.length] as Peer);
    log(`cache run ${runNo}/${cfg.runs}: direct, then ${peers.join(', ')}`);
    for (const cl of clients) out.singles.push(await measured(c, 'direct', runNo, undefined, pullWith(c, cl, 'direct', bigRepo, big), cl));
    for (const peer of peers) await singleAndHeads(c, peer, runNo, out, big);
    for (const peer of peers) await concurrency(c, peer, runNo, out, conc);
  }
  return out;
}
