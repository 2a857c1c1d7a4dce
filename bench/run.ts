// `npm run bench`: a large blob pulled over TLS directly from a real upstream (docker-registry + token server +
// CDN), through the Pullgate mirror (a child process) and through docker-registry's pull-through proxy (a cold
// peer per run), alternating, with medians. Exits non-zero only when a transfer fails or a digest mismatches.
import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { cpus, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import type { IssuedCert } from '../test/support/pki.js';
import { writeLargeBlob, type LargeBlob } from '../test/support/large-blob.js';
import { startRealRegistry, type RealRegistry } from '../test/support/real-registry.js';
import { benchConfig, mirrorSetup, type BenchConfig } from './config.js';
import { cacheReport } from './cache-report.js';
import { runCacheScenario } from './cache-scenario.js';
import { runSniScenario } from './sni-passthrough.js';
import { curlDirect, curlFrom, verifyOnce } from './curl-client.js';
import { pullDirect, pullFrom, type ClientOptions, type PullTiming } from './light-client.js';
import { measurePull, otherCores, type PathName, type PathRun } from './measure.js';
import { startMirror, startProxy } from './peers.js';
import { findPid, memory, waitForQuiet } from './proc-stats.js';
import { report } from './report.js';
import { MiB } from './stats.js';
import { workersHowMeasured } from './workers-report.js';

const projectRoot = join(dirname(fileURLToPath(import.meta.url)), '..');
const run = promisify(execFile);
const bigRepo = 'bench/big';
const smallRepo = 'bench/small';

const log = (msg: string): void => void process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${msg}\n`);

/** Cleanups in reverse order of registration; run once, also on SIGINT/SIGTERM. */
class Cleanup {
  private readonly steps: (() => Promise<unknown>)[] = [];
  private running: Promise<void> | undefined;
  add(step: () => Promise<unknown>): void {
    this.steps.push(step);
  }
  run(): Promise<void> {
    return (this.running ??= (async () => {
      for (const step of this.steps.splice(0).reverse()) {
        await step().catch((err: unknown) => log(`cleanup step failed: ${String(err)}`));
      }
    })());
  }
}

async function versions(): Promise<{ registry: string; undici: string }> {
  const registry = await run('docker-registry', ['--version']).then((r) => r.stdout.trim(), () => 'unknown');
  const pkg = createRequire(import.meta.url)('undici/package.json') as { version: string };
  return { registry, undici: pkg.version };
}

interface Context {
  cfg: BenchConfig;
  reg: RealRegistry;
  tmp: string;
  upstreamPid: number;
  big: LargeBlob;
  small: LargeBlob;
  client: ClientOptions;
  /** The tree whose dist/src/main.js runs as the mirror. */
  mirrorRoot: string;
  mirrorCert: IssuedCert;
  proxyCert: IssuedCert;
}

const settleTimeoutMs = 300_000;

/** The pull scenario's client: undici in this process (default), or curl with BENCH_CLIENT=curl. */
function pullBig(c: Context, baseUrl: string | 'direct'): () => Promise<PullTiming> {
  const o = { caFile: c.reg.caFile, timeoutMs: c.client.timeoutMs };
  if (c.cfg.client === 'curl') return () => (baseUrl === 'direct' ? curlDirect(c.reg, bigRepo, c.big, o) : curlFrom(baseUrl, bigRepo, c.big, o));
  return () => (baseUrl === 'direct' ? pullDirect(c.reg, bigRepo, c.big, c.client) : pullFrom(baseUrl, bigRepo, c.big, c.client));
}

async function runDirect(c: Context, runNo: number): Promise<PathRun[]> {
  const result = await measurePull({
    path: 'direct',
    run: runNo,
    cdn: c.reg.cdn,
    pids: serverPids(c),
    pull: pullBig(c, 'direct'),
    settleTimeoutMs,
  });
  return [result];
}

async function runMirror(c: Context, runNo: number): Promise<PathRun[]> {
  const dir = join(c.tmp, `mirror-${runNo}`);
  const mirror = await startMirror({ root: c.mirrorRoot, dir, reg: c.reg, cert: c.mirrorCert, nodeArgs: c.cfg.mirrorNodeArgs });
  try {
    const idle = await memory(mirror.child.pid);
    // The small pull first: its peak RSS against the large pull's shows whether memory grows with blob size.
    await pullFrom(mirror.url, smallRepo, c.small, c.client);
    const afterSmall = await memory(mirror.child.pid);
    const measure = (path: PathName): Promise<PathRun> =>
      measurePull({
        path,
        run: runNo,
        cdn: c.reg.cdn,
        pids: serverPids(c, mirror.child.pid),
        pull: pullBig(c, mirror.url),
        settleTimeoutMs,
      });
    const cold = await measure('mirror');
    cold.mirrorIdleRss = idle.rss;
    cold.mirrorHwmSmall = afterSmall.hwm;
    const lines = mirror.accessLines.filter((l) => l.url.includes(c.big.digest));
    const clean = lines.length === 1 && lines.every((l) => l.status === 200 && l.bytes === c.big.size && l.error === undefined);
    if (!clean) throw new Error(`mirror access line for the big blob is not one clean 200 of ${c.big.size} bytes: ${JSON.stringify(lines)}`);
    // The same blob again from the same mirror: what its cache (if any) makes of a second pull.
    const warm = await measure('mirror-warm');
    if (c.cfg.client === 'curl') await verifyOnce(mirror.url, bigRepo, c.big, c.client);
    return [cold, warm];
  } catch (err) {
    throw new Error(`${(err as Error).message}\n--- mirror output (tail) ---\n${mirror.child.output().slice(-4000)}`);
  } finally {
    await mirror.child.stop();
    await rm(dir, { recursive: true, force: true });
  }
}

async function runProxy(c: Context, runNo: number): Promise<PathRun[]> {
  // A fresh storage directory per run: every run is a cold pull.
  const dir = join(c.tmp, `proxy-${runNo}`);
  const reader = c.reg.users['reader'];
  if (reader === undefined) throw new Error('the upstream has no reader user');
  try {
    const proxy = await startProxy({ dir, reg: c.reg, cert: c.proxyCert, username: 'reader', password: reader });
    try {
      const result = await measurePull({
        path: 'proxy',
        run: runNo,
        cdn: c.reg.cdn,
        pids: serverPids(c, proxy.child.pid),
        pull: pullBig(c, proxy.url),
        settleTimeoutMs,
      });
      if (c.cfg.client === 'curl') await verifyOnce(proxy.url, bigRepo, c.big, c.client);
      return [result];
    } catch (err) {
      throw new Error(`${(err as Error).message}\n--- docker-registry proxy output (tail) ---\n${proxy.child.output().slice(-4000)}`);
    } finally {
      await proxy.child.stop();
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

type MeasuredPath = 'direct' | 'mirror' | 'proxy';
const runners: Record<MeasuredPath, (c: Context, runNo: number) => Promise<PathRun[]>> = { direct: runDirect, mirror: runMirror, proxy: runProxy };

/** One path's pull(s), after waiting for a quiet machine; repeated when other programs disturbed them. */
async function measureQuietly(c: Context, path: MeasuredPath, runNo: number): Promise<PathRun[]> {
  for (let attempt = 0; ; attempt++) {
    if (!(await waitForQuiet({ timeoutMs: 30_000 }))) log('  the machine did not get quiet within 30 s; measuring anyway');
    log(`run ${runNo}/${c.cfg.runs}: ${path}${attempt > 0 ? ` (attempt ${attempt + 1})` : ''}`);
    const results = await runners[path](c, runNo);
    for (const r of results) {
      r.retries = attempt;
      log(`  ${r.path}: ${(r.timing.wallMs / 1000).toFixed(2)} s, ${(c.big.size / 1e6 / (r.timing.wallMs / 1000)).toFixed(0)} MB/s, ${r.fetches.gets} upstream GET(s)`);
    }
    const busy = Math.max(...results.map(otherCores));
    if (busy <= c.cfg.disturbedCores || attempt >= c.cfg.retryDisturbed) return results;
    log(`  other programs kept ${busy.toFixed(2)} cores busy during a pull: again`);
  }
}

async function main(cleanup: Cleanup): Promise<void> {
  const startedAt = Date.now();
  const cfg = benchConfig();
  log(`scenarios ${cfg.scenarios.join(',')}; size ${cfg.sizeBytes / MiB} MiB, ${cfg.runs} runs, paths ${cfg.paths.join(',')}`);
  const mirrorRoot = cfg.mirrorRoot ?? projectRoot;
  const pull = cfg.scenarios.includes('pull');
  const cache = cfg.scenarios.includes('cache');
  const sni = cfg.scenarios.includes('sni');
  const needsBuild = (pull && cfg.paths.includes('mirror')) || (cache && cfg.cachePeers.includes('mirror')) || sni;
  if (needsBuild && process.env['BENCH_SKIP_BUILD'] === '1') log(`BENCH_SKIP_BUILD=1: the last build in ${mirrorRoot}`);
  else if (needsBuild) {
    log(`npm run build (in ${mirrorRoot})`);
    await run('npm', ['run', 'build'], { cwd: mirrorRoot }).catch((err: { stdout?: string; stderr?: string }) => {
      throw new Error(`npm run build failed:\n${err.stdout ?? ''}${err.stderr ?? ''}`);
    });
  }
  const tmp = await mkdtemp(join(tmpdir(), 'pullgate-bench-'));
  cleanup.add(() => rm(tmp, { recursive: true, force: true }));
  const v = await versions();
  if (pull) await pullScenario(cfg, tmp, mirrorRoot, cleanup, v);
  if (sni) process.stdout.write(`\n${await runSniScenario({ cfg, tmp, mirrorRoot, log, cleanup: (step) => cleanup.add(step) })}\n`);
  if (cache) {
    const cacheStarted = Date.now();
    const results = await runCacheScenario({ cfg, tmp, mirrorRoot, log, cleanup: (step) => cleanup.add(step) });
    const nginx = await run('nginx', ['-v']).then((r) => r.stderr.trim(), () => 'nginx (version unknown)');
    const curl = await run('curl', ['--version']).then((r) => r.stdout.split(' ').slice(0, 2).join(' '), () => 'curl');
    const howMeasured = [
      `upstream: ${v.registry}, TLS, NO auth (nginx cannot do the token dance, so no path uses a token here), redirect middleware: every blob GET is a 307 to the Node CDN, which all three servers and the direct client follow; ${cfg.upstreamBytesPerSecond > 0 ? `the CDN paces each body to ${cfg.upstreamBytesPerSecond / 1e6} MB/s (BENCH_UPSTREAM_MBPS: an upstream link's speed)` : 'the CDN sends as fast as it can (BENCH_UPSTREAM_MBPS paces it like a real link)'}`,
      `blobs: ${cfg.sizeBytes / MiB} MiB for single pulls, ${cfg.concBytes / MiB} MiB for the concurrency run (BENCH_SIZE_MB, BENCH_CONC_SIZE_MB); incompressible keystream`,
      `runs: ${cfg.runs}; per run: direct with each client, then per server (order rotated each run) and client a fresh instance: its first request (a cold pull of a 4 MiB blob, bench/first; its TTFB is "first request TTFB"), then the measured cold pull of the big blob (the cache cold, the process not: a running mirror's cache miss), warm pull; the floors get the same first request; HEAD load on the last; then per server a fresh instance for the concurrency run`,
      `single-pull clients (BENCH_CLIENT=undici|curl|both): ${results.clients.map((cl) => (cl === 'curl' ? `${curl} child process, -o /dev/null (wall = time_total, TTFB = time_starttransfer = first response byte); the digest is checked once per server by an undici pull that hashes (outside the measurements)` : `undici ${v.undici} in the bench process (which also runs the CDN), body sha256-verified`)).join('; ')}`,
      `Pullgate: node ${process.version} ${cfg.mirrorRoot ? `${cfg.mirrorRoot}/` : ''}dist/src/main.js serve (${mirrorSetup()}), anonymous mirror mode; nginx: ${nginx}, one process (master_process off), proxy_cache keyed by the digest, proxy_cache_lock on, registry 307 intercepted (error_page 307 = @cdn) and followed with proxy_pass $upstream_http_location into the same cache key; manifests cached 5 min by URI+Accept`,
      'docker-registry proxy: distribution proxy mode, remoteurl = the upstream, own storage',
      `concurrency: ${cfg.concClients} curl processes (BENCH_CONC_CLIENTS) started together by one bash process (TTFB counts from just before that bash is spawned), body piped through dd (1 byte, stamps the first BODY byte) then cat > /dev/null; client 0 through sha256sum (digest verified); every client checks HTTP 200 + byte count; "total/one cold" divides by the single cold wall time of the same server scaled to the blob size`,
      `HEAD: GET once to warm the tag, then ${cfg.headRequests} HEADs (BENCH_HEAD_N) over ${cfg.headConnections} keep-alive TLS connections (BENCH_HEAD_CONNECTIONS; node:https keep-alive Agent, since undici closes the connection after every HEAD), one request in flight per connection; Accept = docker v2 + OCI manifest/index types; latency = request start to end of response`,
      'server CPU-s: utime+stime of the server pid (/proc/<pid>/stat) from request start to the last byte; "(+bg)" until the CDN transfers end and the server is idle; CPU-s/GB with GB = 10^9 bytes; the goals compare the (+bg) figures (a fill that finishes after the client ends is still the cold pull\'s cost); "/ nginx": the same client\'s figure for nginx in the same run (cold against cold, warm against warm)',
      'peak RSS: VmHWM of the server process after the pull (fresh instance per client: cold then warm); idle RSS: VmRSS before its first request; peak RSS includes the first request\'s pull',
      'client CPU-s: reaped child processes (cutime+cstime of the bench process: curl, dd, cat, sha256sum); peak RSS: VmHWM of the server process, fresh per concurrency run',
      'upstream GETs / bytes: blob GETs and body bytes the CDN served (the ground truth for upstream fetches)',
      ...(cfg.cacheParts.includes('workers') ? workersHowMeasured(cfg.workers) : []),
      `machine: ${cpus().length} cores; cache scenario time ${((Date.now() - cacheStarted) / 1000).toFixed(0)} s; total bench time ${((Date.now() - startedAt) / 1000).toFixed(0)} s`,
    ];
    process.stdout.write(`\n${cacheReport(results, cfg.runs, howMeasured, cfg.workers)}\n`);
  }
}

async function pullScenario(cfg: BenchConfig, tmp: string, mirrorRoot: string, cleanup: Cleanup, v: { registry: string; undici: string }): Promise<void> {
  const startedAt = Date.now();
  log('starting the upstream (docker-registry + token server + CDN)');
  const reg = await startRealRegistry();
  cleanup.add(() => reg.stop());
  const upstreamPid = await findPid('docker-registry', 'serve', join(reg.dir, 'config.yml'));
  log(`writing blobs (${cfg.smallBytes / MiB} MiB and ${cfg.sizeBytes / MiB} MiB) into the upstream's storage`);
  const small = await writeLargeBlob(reg, smallRepo, cfg.smallBytes);
  const big = await writeLargeBlob(reg, bigRepo, cfg.sizeBytes);
  const [mirrorCert, proxyCert] = await Promise.all([
    reg.ca.issue('bench-mirror', ['mirror.bench.test', 'localhost'], ['127.0.0.1']),
    reg.ca.issue('bench-proxy', ['proxy.bench.test', 'localhost'], ['127.0.0.1']),
  ]);
  // At least 20 MB/s, or the pull counts as failed.
  const client: ClientOptions = { ca: reg.ca.caCertPem, h2: cfg.h2, timeoutMs: Math.max(120_000, (cfg.sizeBytes / 20e6) * 1000) };
  const c: Context = { cfg, reg, tmp, upstreamPid, big, small, client, mirrorRoot, mirrorCert, proxyCert };

  log('warm-up: one direct pull of the small blob');
  await pullDirect(reg, smallRepo, small, client);

  const runs: PathRun[] = [];
  for (let i = 0; i < cfg.runs; i++) {
    // Alternating, with the order rotated each run so no path always goes first.
    const order = cfg.paths.map((_, k) => cfg.paths[(k + i) % cfg.paths.length] as MeasuredPath);
    for (const path of order) runs.push(...(await measureQuietly(c, path, i + 1)));
  }

  const howMeasured = [
    `blob: ${cfg.sizeBytes / MiB} MiB of incompressible keystream, placed in the upstream's storage; smaller blob for the RSS check: ${cfg.smallBytes / MiB} MiB`,
    `runs: ${cfg.runs}, paths alternating (${cfg.paths.join(' -> ')}, order rotated by one each run); medians reported`,
    cfg.client === 'curl'
      ? 'client: curl child processes (BENCH_CLIENT=curl), -o /dev/null, wall = token GET + time_total, TTFB = token GET + time_starttransfer; digest verified once per server by an undici pull outside the measurements'
      : `client: undici ${v.undici} in the bench process, ${cfg.h2 ? 'h2 offered by ALPN' : 'HTTP/1.1'}, new connections per pull, body counted + sha256-verified, then dropped`,
    'direct: anonymous token from the realm, blob GET with it, 307 followed to the CDN without Authorization',
    `upstream: ${v.registry} with TLS + token auth + redirect middleware; token server and CDN are Node https servers in the bench process`,
    `mirror: node ${process.version} ${cfg.mirrorRoot ? `${cfg.mirrorRoot}/` : ''}dist/src/main.js serve (${mirrorSetup()}) (child process, fresh per run), https 127.0.0.1:0, anonymous mirror mode; ` +
      `its ${cfg.smallBytes / MiB} MiB pull goes first, then the measured cold pull, then the same blob again from the same mirror (warm)`,
    'proxy: docker-registry in proxy mode (remoteurl + reader credentials), TLS, fresh process and storage dir per run (cold)',
    'wall: request start to last byte; TTFB: request start to first body byte (direct includes the token GET and the 307 hop)',
    `CPU: utime+stime of each process from /proc/<pid>/stat / CLK_TCK, from request start to the last byte; "+bg, settled" runs on until the upstream transfers end and the server's CPU is idle`,
    'bench proc CPU: this process (light client + CDN + token server) via process.cpuUsage(); peak RSS: VmHWM of /proc/<pid>/status',
    'other CPU-s: busy time of the whole machine (/proc/stat) minus the measured processes: other programs and unattributed kernel work',
    `each pull waits for a quiet machine (< 0.15 busy cores for 2 s, at most 30 s) and is repeated (up to ${cfg.retryDisturbed}x, BENCH_RETRY_DISTURBED) when other programs kept more than ${cfg.disturbedCores} cores busy during it`,
    'upstream GETs / bytes: blob requests and body bytes the CDN served during the pull (the ground truth for upstream fetches)',
    `machine: ${cpus().length} cores; pull scenario time ${((Date.now() - startedAt) / 1000).toFixed(0)} s`,
  ];
  await reg.stop();
  const { text } = report({ sizeBytes: cfg.sizeBytes, smallBytes: cfg.smallBytes, runs, paths: cfg.paths, howMeasured, disturbedCores: cfg.disturbedCores });
  process.stdout.write(`\nPULL SCENARIO\n${text}\n`);
}

const cleanup = new Cleanup();
let interrupted = false;
for (const [signal, code] of [['SIGINT', 130], ['SIGTERM', 143]] as const) {
  process.once(signal, () => {
    interrupted = true;
    log(`${signal}: cleaning up`);
    void cleanup.run().then(() => process.exit(code));
  });
}
try {
  await main(cleanup);
  await cleanup.run();
} catch (err) {
  // After a signal, the failure is only the consequence of the cleanup pulling the servers away.
  if (!interrupted) process.stderr.write(`bench failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  await cleanup.run();
  process.exitCode = 1;
}

/** The processes whose CPU a pull is charged to: the upstream registry, and the server in front of it if any. */
function serverPids(c: { upstreamPid: number }, server?: number): Map<string, number> {
  const pids = new Map([['upstream', c.upstreamPid]]);
  if (server !== undefined) pids.set('server', server);
  return pids;
}
