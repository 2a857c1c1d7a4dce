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
import { benchConfig, type BenchConfig } from './config.js';
import { pullDirect, pullFrom, type ClientOptions } from './light-client.js';
import { measurePull, type PathName, type PathRun } from './measure.js';
import { startMirror, startProxy } from './peers.js';
import { findPid, memory } from './proc-stats.js';
import { report } from './report.js';
import { MiB } from './stats.js';

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

async function runDirect(c: Context, runNo: number): Promise<PathRun> {
  return measurePull({
    path: 'direct',
    run: runNo,
    cdn: c.reg.cdn,
    pids: new Map([['upstream', c.upstreamPid]]),
    pull: () => pullDirect(c.reg, bigRepo, c.big, c.client),
    settleTimeoutMs,
  });
}

async function runMirror(c: Context, runNo: number): Promise<PathRun> {
  const dir = join(c.tmp, `mirror-${runNo}`);
  const mirror = await startMirror({ root: c.mirrorRoot, dir, reg: c.reg, cert: c.mirrorCert, nodeArgs: c.cfg.mirrorNodeArgs });
  try {
    const idle = await memory(mirror.child.pid);
    // The small pull first: its peak RSS against the large pull's shows whether memory grows with blob size.
    await pullFrom(mirror.url, smallRepo, c.small, c.client);
    const afterSmall = await memory(mirror.child.pid);
    const result = await measurePull({
      path: 'mirror',
      run: runNo,
      cdn: c.reg.cdn,
      pids: new Map([
        ['server', mirror.child.pid],
        ['upstream', c.upstreamPid],
      ]),
      pull: () => pullFrom(mirror.url, bigRepo, c.big, c.client),
      settleTimeoutMs,
    });
    result.mirrorIdleRss = idle.rss;
    result.mirrorHwmSmall = afterSmall.hwm;
    const line = mirror.accessLines.find((l) => l.url.includes(c.big.digest));
    if (line === undefined || line.status !== 200 || line.bytes !== c.big.size || line.error !== undefined) {
      throw new Error(`mirror access line for the big blob is not a clean 200 of ${c.big.size} bytes: ${JSON.stringify(line)}`);
    }
    return result;
  } catch (err) {
    throw new Error(`${(err as Error).message}\n--- mirror output (tail) ---\n${mirror.child.output().slice(-4000)}`);
  } finally {
    await mirror.child.stop();
    await rm(dir, { recursive: true, force: true });
  }
}

async function runProxy(c: Context, runNo: number): Promise<PathRun> {
  // A fresh storage directory per run: every run is a cold pull.
  const dir = join(c.tmp, `proxy-${runNo}`);
  const reader = c.reg.users['reader'];
  if (reader === undefined) throw new Error('the upstream has no reader user');
  try {
    const proxy = await startProxy({ dir, reg: c.reg, cert: c.proxyCert, username: 'reader', password: reader });
    try {
      return await measurePull({
        path: 'proxy',
        run: runNo,
        cdn: c.reg.cdn,
        pids: new Map([
          ['server', proxy.child.pid],
          ['upstream', c.upstreamPid],
        ]),
        pull: () => pullFrom(proxy.url, bigRepo, c.big, c.client),
        settleTimeoutMs,
      });
    } catch (err) {
      throw new Error(`${(err as Error).message}\n--- docker-registry proxy output (tail) ---\n${proxy.child.output().slice(-4000)}`);
    } finally {
      await proxy.child.stop();
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

const runners: Record<PathName, (c: Context, runNo: number) => Promise<PathRun>> = { direct: runDirect, mirror: runMirror, proxy: runProxy };

async function main(cleanup: Cleanup): Promise<void> {
  const startedAt = Date.now();
  const cfg = benchConfig();
  log(`size ${cfg.sizeBytes / MiB} MiB, ${cfg.runs} runs, paths ${cfg.paths.join(',')}`);
  const mirrorRoot = cfg.mirrorRoot ?? projectRoot;
  if (cfg.paths.includes('mirror')) {
    log(`npm run build (in ${mirrorRoot})`);
    await run('npm', ['run', 'build'], { cwd: mirrorRoot }).catch((err: { stdout?: string; stderr?: string }) => {
      throw new Error(`npm run build failed:\n${err.stdout ?? ''}${err.stderr ?? ''}`);
    });
  }
  const tmp = await mkdtemp(join(tmpdir(), 'pullgate-bench-'));
  cleanup.add(() => rm(tmp, { recursive: true, force: true }));
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
    const order = cfg.paths.map((_, k) => cfg.paths[(k + i) % cfg.paths.length] as PathName);
    for (const path of order) {
      log(`run ${i + 1}/${cfg.runs}: ${path}`);
      const result = await runners[path](c, i + 1);
      log(`  ${(result.timing.wallMs / 1000).toFixed(2)} s, ${(cfg.sizeBytes / 1e6 / (result.timing.wallMs / 1000)).toFixed(0)} MB/s, ${result.fetches.gets} upstream GET(s)`);
      runs.push(result);
    }
  }

  const v = await versions();
  const howMeasured = [
    `blob: ${cfg.sizeBytes / MiB} MiB of incompressible keystream, placed in the upstream's storage; smaller blob for the RSS check: ${cfg.smallBytes / MiB} MiB`,
    `runs: ${cfg.runs}, paths alternating (${cfg.paths.join(' -> ')}, order rotated by one each run); medians reported`,
    `client: undici ${v.undici} in the bench process, ${cfg.h2 ? 'h2 offered by ALPN' : 'HTTP/1.1'}, new connections per pull, body counted + sha256-verified, then dropped`,
    'direct: anonymous token from the realm, blob GET with it, 307 followed to the CDN without Authorization',
    `upstream: ${v.registry} with TLS + token auth + redirect middleware; token server and CDN are Node https servers in the bench process`,
    `mirror: node ${process.version} ${cfg.mirrorRoot ? `${cfg.mirrorRoot}/` : ''}dist/src/main.js serve${cfg.mirrorNodeArgs.length ? ` (node flags: ${cfg.mirrorNodeArgs.join(' ')})` : ''} (child process, fresh per run), https 127.0.0.1:0, anonymous mirror mode; ` +
      `the ${cfg.smallBytes / MiB} MiB pull goes first, then the measured pull`,
    'proxy: docker-registry in proxy mode (remoteurl + reader credentials), TLS, fresh process and storage dir per run (cold)',
    'wall: request start to last byte; TTFB: request start to first body byte (direct includes the token GET and the 307 hop)',
    `CPU: utime+stime of each process from /proc/<pid>/stat / CLK_TCK, from request start to the last byte; "+bg, settled" runs on until the upstream transfers end and the server's CPU is idle`,
    'bench proc CPU: this process (light client + CDN + token server) via process.cpuUsage(); peak RSS: VmHWM of /proc/<pid>/status',
    'other CPU-s: busy time of the whole machine (/proc/stat) minus the measured processes: other programs and unattributed kernel work',
    'upstream GETs / bytes: blob requests and body bytes the CDN served during the pull (the ground truth for upstream fetches)',
    `machine: ${cpus().length} cores; total bench time ${((Date.now() - startedAt) / 1000).toFixed(0)} s`,
  ];
  const { text } = report({ sizeBytes: cfg.sizeBytes, smallBytes: cfg.smallBytes, runs, paths: cfg.paths, howMeasured });
  process.stdout.write(`\n${text}\n`);
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
