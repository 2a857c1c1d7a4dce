// What the parts of the cache scenario share (bench/cache-scenario.ts, bench/workers-scenario.ts): the upstream
// and certificates of the run, starting a fresh instance of a server under test, a pull with a chosen client,
// and one measured pull.
import { rm } from 'node:fs/promises';
import type { LargeBlob } from '../test/support/large-blob.js';
import type { IssuedCert } from '../test/support/pki.js';
import type { RealRegistry } from '../test/support/real-registry.js';
import { concurrentPulls, type ConcurrentPulls } from './concurrent.js';
import type { BenchConfig } from './config.js';
import { curlDirect, curlFrom } from './curl-client.js';
import { pullDirect, pullFrom, type ClientOptions, type PullTiming } from './light-client.js';
import { measurePull, type PathName, type PathRun } from './measure.js';
import { startNginx } from './nginx.js';
import { startMirror, startProxy, type MirrorAccessLine } from './peers.js';
import { waitForQuiet } from './proc-stats.js';

/** The repository of the concurrency runs' blob. */
export const concRepo = 'bench/conc';

export type Peer = 'mirror' | 'nginx' | 'proxy';
export type Client = 'undici' | 'curl';

export interface Ctx {
  cfg: BenchConfig;
  reg: RealRegistry;
  tmp: string;
  upstreamPid: number;
  client: ClientOptions;
  clients: Client[];
  mirrorRoot: string;
  certs: Record<Peer, IssuedCert>;
  manifestDigest: string;
  /** A small blob each fresh instance pulls (cold) before its measured cold pull: its first request. */
  first: LargeBlob;
  log: (msg: string) => void;
}

export interface Running {
  url: string;
  /** The server's top process: the one process, or the supervisor / nginx master of its workers. */
  pid: number;
  output: () => string;
  stop: () => Promise<void>;
  /** Pullgate only: its access lines so far. */
  accessLines?: MirrorAccessLine[];
}

/** A fresh instance in `dir`; `workers`: Pullgate's `workers:` or nginx's `worker_processes` (absent: one process). */
export async function startPeer(c: Ctx, peer: Peer, dir: string, workers?: number): Promise<Running> {
  const w = workers === undefined ? {} : { workers };
  if (peer === 'mirror') {
    const m = await startMirror({ root: c.mirrorRoot, dir, reg: c.reg, cert: c.certs.mirror, nodeArgs: c.cfg.mirrorNodeArgs, ...w, startTimeoutMs: 60_000 });
    return { url: m.url, pid: m.child.pid, output: m.child.output, stop: () => m.child.stop(), accessLines: m.accessLines };
  }
  if (peer === 'nginx') {
    const n = await startNginx({ dir, reg: c.reg, cert: c.certs.nginx, ...w });
    return { url: n.url, pid: n.child.pid, output: n.child.output, stop: () => n.child.stop() };
  }
  // The upstream has no auth; the credentials are never asked for.
  const p = await startProxy({ dir, reg: c.reg, cert: c.certs.proxy, username: 'reader', password: c.reg.users['reader'] ?? '' });
  return { url: p.url, pid: p.child.pid, output: p.child.output, stop: () => p.child.stop() };
}

/** A pull with the chosen client (curl processes show up as `client` CPU, see proc-stats.ts snapshot). */
export function pullWith(c: Ctx, client: Client, baseUrl: string | 'direct', repo: string, blob: LargeBlob): () => Promise<PullTiming> {
  const curlOpts = { caFile: c.reg.caFile, timeoutMs: c.client.timeoutMs };
  // undici direct: pullDirect's token GET is answered but not needed (no auth upstream); a few ms.
  if (client === 'undici') return () => (baseUrl === 'direct' ? pullDirect(c.reg, repo, blob, c.client) : pullFrom(baseUrl, repo, blob, c.client));
  return () => (baseUrl === 'direct' ? curlDirect(c.reg, repo, blob, curlOpts) : curlFrom(baseUrl, repo, blob, curlOpts));
}

/** One pull measured after waiting for a quiet machine; the server's CPU is its whole process tree's. */
export async function measured(c: Ctx, path: PathName, runNo: number, pid: number | undefined, pull: () => Promise<PullTiming>, client?: Client): Promise<PathRun> {
  if (!(await waitForQuiet({ timeoutMs: c.cfg.quietTimeoutMs }))) c.log(`  the machine did not get quiet within ${c.cfg.quietTimeoutMs / 1000} s; measuring anyway`);
  const pids = new Map([['upstream', c.upstreamPid]]);
  if (pid !== undefined) pids.set('server', pid);
  const r = await measurePull({ path, run: runNo, cdn: c.reg.cdn, pids, pull, settleTimeoutMs: 300_000 });
  if (client !== undefined) r.client = client;
  c.log(`  ${path}${client === undefined ? '' : ` (${client})`}: ${(r.timing.wallMs / 1000).toFixed(2)} s, server CPU ${(r.cpuSettled['server'] ?? 0).toFixed(2)} s, ${r.fetches.gets} upstream GET(s)`);
  return r;
}

/** Runs `body` on a fresh instance, which is stopped and whose directory is removed afterwards. */
export async function withPeer<T>(c: Ctx, peer: Peer, dir: string, workers: number | undefined, body: (s: Running) => Promise<T>): Promise<T> {
  const s = await startPeer(c, peer, dir, workers);
  try {
    return await body(s);
  } catch (err) {
    throw new Error(`${(err as Error).message}\n--- ${peer} output (tail) ---\n${s.output().slice(-4000)}`);
  } finally {
    await s.stop();
    await rm(dir, { recursive: true, force: true });
  }
}

/** BENCH_CONC_CLIENTS concurrent cold curl pulls of one blob from a fresh instance (of one or several processes). */
export async function concurrency(c: Ctx, s: Running, path: PathName, runNo: number, blob: LargeBlob): Promise<PathRun & { pulls: ConcurrentPulls }> {
  let pulls: ConcurrentPulls | undefined;
  const url = `${s.url}/v2/${concRepo}/blobs/${blob.digest}`;
  const r = await measured(c, path, runNo, s.pid, async () => {
    pulls = await concurrentPulls(url, blob, { clients: c.cfg.concClients, caFile: c.reg.caFile, timeoutMs: c.client.timeoutMs * 4 });
    const slowest = Math.max(...pulls.clients.map((p) => p.ttfbMs));
    return { wallMs: pulls.totalMs, ttfbMs: slowest, bytes: pulls.clients.reduce((n, p) => n + p.bytes, 0) };
  });
  if (pulls === undefined) throw new Error('no concurrent pulls');
  return { ...r, pulls };
}

