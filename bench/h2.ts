// `npm run bench:h2`: one large blob through the Pullgate mirror (the built dist/, a child process) over HTTP/2
// against HTTP/1.1, cold (the mirror fills from a real upstream while it streams) and as a cache hit, on loopback
// and over an emulated long path (test/support/link-emulator.ts, its own process, between client and mirror: a
// one-way delay each way and a bounded in-flight window, as a TCP connection on a path with that RTT sees). Reports MB/s and the
// mirror's CPU-seconds per GB (from /proc), medians of the runs. The client is curl (nghttp2 for h2), a child
// process, so its CPU is not the bench's; the bytes of each protocol are sha256-checked once outside the timing.
// Exits non-zero when a transfer fails, speaks the wrong protocol or a digest mismatches.
import { execFile, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { cpus, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { writeLargeBlob, type LargeBlob } from '../test/support/large-blob.js';
import { startRealRegistry } from '../test/support/real-registry.js';
import { spawnChild, type Child } from './child.js';
import { startMirror } from './peers.js';
import { childrenCpuSeconds, cpuSeconds, systemBusySeconds, waitForQuiet } from './proc-stats.js';
import { fixed, GB, median, MiB, table } from './stats.js';

const projectRoot = join(dirname(fileURLToPath(import.meta.url)), '..');
const run = promisify(execFile);
const repository = 'bench/big';
const log = (msg: string): void => void process.stderr.write(`[bench:h2 ${new Date().toISOString().slice(11, 19)}] ${msg}\n`);

type Protocol = 'h1' | 'h2';
type LinkName = 'loopback' | 'rtt';
type State = 'cold' | 'hit';

function positiveInt(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value <= 0) throw new Error(`${name} must be a positive integer, got ${raw}`);
  return value;
}

const cfg = {
  sizeBytes: positiveInt('BENCH_SIZE_MB', 1024) * MiB,
  runs: positiveInt('BENCH_RUNS', 3),
  rttMs: positiveInt('BENCH_H2_RTT_MS', 50),
  /** The emulated path's in-flight window (what TCP's window would be): one connection moves about window/RTT. */
  windowBytes: positiveInt('BENCH_H2_WINDOW_KB', 4096) * 1024,
  links: (process.env['BENCH_H2_LINKS'] ?? 'loopback,rtt').split(',').filter((l): l is LinkName => l === 'loopback' || l === 'rtt'),
  skipBuild: process.env['BENCH_SKIP_BUILD'] === '1',
  mirrorRoot: process.env['BENCH_MIRROR_ROOT'] ? resolve(process.env['BENCH_MIRROR_ROOT']) : projectRoot,
  quietMs: positiveInt('BENCH_QUIET_S', 10) * 1000,
};

interface Sample {
  link: LinkName;
  protocol: Protocol;
  state: State;
  run: number;
  wallMs: number;
  ttfbMs: number;
  /** The mirror's CPU-seconds from request start to the last byte, and until it went idle (the fill's tail). */
  serverCpu: number;
  serverCpuSettled: number;
  clientCpu: number;
  /** Cores busy with other programs during the pull, on average. */
  otherCores: number;
  upstreamGets: number;
}

/** `curl -o /dev/null` of the blob; checks status, size and the protocol curl spoke. */
async function curlPull(url: string, protocol: Protocol, caFile: string, blob: LargeBlob): Promise<{ wallMs: number; ttfbMs: number }> {
  const args = ['-s', protocol === 'h2' ? '--http2' : '--http1.1', '-o', '/dev/null', '--cacert', caFile, '--max-time', '600'];
  args.push('-w', '%{http_code} %{http_version} %{time_starttransfer} %{time_total} %{size_download}', url);
  const { stdout } = await run('curl', args).catch((err: { code?: number; stderr?: string }) => {
    throw new Error(`curl ${url} failed (exit ${String(err.code)}): ${err.stderr ?? ''}`);
  });
  const [code, version, start, total, size] = stdout.trim().split(' ');
  if (code !== '200') throw new Error(`curl ${url}: HTTP ${String(code)}`);
  if (version !== (protocol === 'h2' ? '2' : '1.1')) throw new Error(`curl ${url}: spoke HTTP/${String(version)}, not ${protocol}`);
  if (Number(size) !== blob.size) throw new Error(`curl ${url}: got ${String(size)} bytes, expected ${blob.size}`);
  return { wallMs: Number(total) * 1000, ttfbMs: Number(start) * 1000 };
}

/** The body through curl into a sha256 here (not timed): the bytes each protocol delivers are the blob's. */
async function verifyDigest(url: string, protocol: Protocol, caFile: string, blob: LargeBlob): Promise<void> {
  const curl = spawn('curl', ['-sS', '--fail', protocol === 'h2' ? '--http2' : '--http1.1', '--cacert', caFile, url], { stdio: ['ignore', 'pipe', 'pipe'] });
  const hash = createHash('sha256');
  let bytes = 0;
  let stderr = '';
  curl.stderr.on('data', (c: Buffer) => (stderr += c.toString('utf8')));
  const exited = new Promise<number | null>((res) => curl.once('exit', (code) => res(code)));
  for await (const chunk of curl.stdout as AsyncIterable<Buffer>) {
    hash.update(chunk);
    bytes += chunk.length;
  }
  const code = await exited;
  const digest = `sha256:${hash.digest('hex')}`;
  if (code !== 0 || bytes !== blob.size || digest !== blob.digest) {
    throw new Error(`${protocol} verification of ${url}: exit ${String(code)}, ${bytes} bytes, ${digest} (want ${blob.digest}) ${stderr}`);
  }
}

/** bench/link-process.ts in front of `targetPort`; resolves with the child and the port it listens on. */
async function startLink(targetPort: number): Promise<{ child: Child; port: number }> {
  let listening: (port: number) => void = () => undefined;
  const ready = new Promise<number>((res) => (listening = res));
  const child = spawnChild({
    name: 'link emulator',
    command: process.execPath,
    args: ['--import', 'tsx', join(projectRoot, 'bench', 'link-process.ts'), String(targetPort), String(cfg.rttMs / 2), String(cfg.windowBytes)],
    cwd: projectRoot,
    onLine: (line) => {
      if (line.startsWith('{"port":')) listening((JSON.parse(line) as { port: number }).port);
    },
  });
  const died = child.exit.then(() => Promise.reject(new Error(`the link emulator exited:\n${child.output()}`)));
  return { child, port: await Promise.race([ready, died]) };
}

/** Waits until a process has used no more CPU for a moment (the fill's tail is done). */
async function settleCpu(pid: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = await cpuSeconds(pid);
  while (Date.now() < deadline) {
    await sleep(300);
    const now = await cpuSeconds(pid);
    if (now - last < 0.015) return;
    last = now;
  }
}

async function main(): Promise<void> {
  const started = Date.now();
  log(`size ${cfg.sizeBytes / MiB} MiB, ${cfg.runs} runs, links ${cfg.links.join(',')}, RTT ${cfg.rttMs} ms, window ${cfg.windowBytes / 1024} KiB`);
  if (!cfg.skipBuild) {
    log(`npm run build (in ${cfg.mirrorRoot})`);
    await run('npm', ['run', 'build'], { cwd: cfg.mirrorRoot }).catch((err: { stdout?: string; stderr?: string }) => {
      throw new Error(`npm run build failed:\n${err.stdout ?? ''}${err.stderr ?? ''}`);
    });
  }
  const tmp = await mkdtemp(join(tmpdir(), 'pullgate-bench-h2-'));
  const reg = await startRealRegistry();
  const samples: Sample[] = [];
  const verified = new Set<Protocol>();
  try {
    log(`writing a ${cfg.sizeBytes / MiB} MiB blob into the upstream's storage`);
    const blob = await writeLargeBlob(reg, repository, cfg.sizeBytes);
    const cert = await reg.ca.issue('bench-h2-mirror', ['localhost'], ['127.0.0.1']);
    for (let r = 1; r <= cfg.runs; r++) {
      for (const link of cfg.links) {
        // Alternating, the order flipped each run so neither protocol always goes first.
        const protocols: Protocol[] = r % 2 === 1 ? ['h1', 'h2'] : ['h2', 'h1'];
        for (const protocol of protocols) {
          const dir = join(tmp, `mirror-${r}-${link}-${protocol}`);
          const mirror = await startMirror({ root: cfg.mirrorRoot, dir, reg, cert });
          let relay: { child: Child; port: number } | undefined;
          try {
            const mirrorPort = Number(new URL(mirror.url).port);
            if (link === 'rtt') relay = await startLink(mirrorPort);
            const url = `https://127.0.0.1:${relay?.port ?? mirrorPort}/v2/${repository}/blobs/${blob.digest}`;
            for (const state of ['cold', 'hit'] as const) {
              if (!(await waitForQuiet({ timeoutMs: cfg.quietMs }))) log('  the machine did not get quiet; measuring anyway');
              const cdnFrom = reg.cdn.requests.length;
              const pid = mirror.child.pid;
              const [cpu0, client0, sys0] = [await cpuSeconds(pid), await childrenCpuSeconds(), await systemBusySeconds()];
              const t = await curlPull(url, protocol, reg.caFile, blob);
              const [cpu1, client1, sys1] = [await cpuSeconds(pid), await childrenCpuSeconds(), await systemBusySeconds()];
              await settleCpu(pid, 30_000);
              const cpuSettled = (await cpuSeconds(pid)) - cpu0;
              // One fill: one GET of the whole blob, its other segments as Range requests (docs/segmented-fills.md).
              const upstreamGets = reg.cdn.requests.slice(cdnFrom).filter((q) => q.method === 'GET' && q.range === undefined).length;
              if (state === 'hit' && upstreamGets !== 0) throw new Error(`the cache hit fetched from the upstream (${upstreamGets} GETs)`);
              if (state === 'cold' && upstreamGets !== 1) throw new Error(`the cold pull made ${upstreamGets} upstream fills, not 1`);
              const sample: Sample = {
                link,
                protocol,
                state,
                run: r,
                wallMs: t.wallMs,
                ttfbMs: t.ttfbMs,
                serverCpu: cpu1 - cpu0,
                serverCpuSettled: cpuSettled,
                clientCpu: client1 - client0,
                otherCores: Math.max(0, sys1 - sys0 - (cpu1 - cpu0) - (client1 - client0)) / (t.wallMs / 1000),
                upstreamGets,
              };
              samples.push(sample);
              log(`run ${r} ${link} ${protocol} ${state}: ${(blob.size / 1e6 / (t.wallMs / 1000)).toFixed(0)} MB/s, server ${sample.serverCpu.toFixed(2)} CPU-s`);
            }
            if (!verified.has(protocol)) {
              await verifyDigest(url, protocol, reg.caFile, blob);
              verified.add(protocol);
              log(`  ${protocol}: body sha256 verified`);
            }
          } finally {
            await relay?.child.stop();
            await mirror.child.stop();
            await rm(dir, { recursive: true, force: true });
          }
        }
      }
    }
    const curlVersion = await run('curl', ['--version']).then((o) => o.stdout.split('\n')[0] ?? 'curl', () => 'curl');
    process.stdout.write(`\n${report(samples, blob.size, curlVersion, started)}\n`);
  } finally {
    await reg.stop();
    await rm(tmp, { recursive: true, force: true });
  }
}

function report(samples: readonly Sample[], size: number, curlVersion: string, started: number): string {
  const pick = (link: LinkName, protocol: Protocol, state: State): Sample[] =>
    samples.filter((s) => s.link === link && s.protocol === protocol && s.state === state);
  const mbps = (s: readonly Sample[]): number => median(s.map((x) => size / 1e6 / (x.wallMs / 1000)));
  const cpuPerGb = (s: readonly Sample[], settled = false): number => median(s.map((x) => (settled ? x.serverCpuSettled : x.serverCpu) / (size / GB)));
  /** Median over runs of h2's figure against h1's of the same run (the two pulls next to each other in time). */
  const paired = (h1: readonly Sample[], h2: readonly Sample[], f: (x: Sample) => number): number =>
    median(h2.flatMap((b) => h1.filter((a) => a.run === b.run).map((a) => f(b) / f(a))));
  const rows: string[][] = [[
    'link', 'state', 'h1 MB/s', 'h2 MB/s', 'h2/h1', 'h2/h1 paired', 'h1 CPU-s/GB', 'h2 CPU-s/GB', 'h2/h1 CPU', 'h1 TTFB ms', 'h2 TTFB ms', 'other cores',
  ]];
  for (const link of cfg.links) {
    for (const state of ['cold', 'hit'] as const) {
      const h1 = pick(link, 'h1', state);
      const h2 = pick(link, 'h2', state);
      const settled = state === 'cold';
      rows.push([
        link === 'rtt' ? `${cfg.rttMs} ms RTT` : 'loopback',
        state,
        fixed(mbps(h1), 0),
        fixed(mbps(h2), 0),
        fixed(mbps(h2) / mbps(h1), 2),
        fixed(paired(h1, h2, (x) => 1 / x.wallMs), 2),
        fixed(cpuPerGb(h1, settled), 2),
        fixed(cpuPerGb(h2, settled), 2),
        fixed(cpuPerGb(h2, settled) / cpuPerGb(h1, settled), 2),
        fixed(median(h1.map((x) => x.ttfbMs)), 0),
        fixed(median(h2.map((x) => x.ttfbMs)), 0),
        fixed(median([...h1, ...h2].map((x) => x.otherCores)), 2),
      ]);
    }
  }
  const notes = [
    `blob: ${size / MiB} MiB of incompressible keystream in a real upstream (docker-registry + token server + CDN redirect); medians of ${cfg.runs} runs, h1/h2 order flipped each run`,
    `mirror: node ${process.version} dist/src/main.js serve, fresh process and cache per run and protocol: "cold" fills from the upstream while streaming (one upstream GET checked), "hit" is the same blob again`,
    `client: ${curlVersion}; --http1.1 or --http2 over TLS (ALPN), -o /dev/null; the protocol spoken is checked; the body's sha256 checked once per protocol outside the timing`,
    `${cfg.rttMs} ms RTT: test/support/link-emulator.ts (its own process, bench/link-process.ts) between curl and the mirror, ${cfg.rttMs / 2} ms each way, ${cfg.windowBytes / 1024} KiB in flight (window/RTT = ${(cfg.windowBytes / (cfg.rttMs / 1000) / 1e6).toFixed(0)} MB/s), no rate cap`,
    'CPU-s/GB: utime+stime of the mirror process (/proc/<pid>/stat) per 10^9 bytes, request start to last byte (cold: until the mirror went idle, the fill\'s tail included)',
    'h2/h1 paired: the median over runs of h2 against h1 of the same run (pulled one after the other), less disturbed by load that comes and goes',
    'other cores: machine busy time (/proc/stat) minus mirror and curl, per second of the pull: the link emulator, the bench (CDN, token server), docker-registry and other programs',
    `machine: ${cpus().length} cores; bench time ${((Date.now() - started) / 1000).toFixed(0)} s`,
  ];
  const each = samples.map((x) =>
    `${x.link} ${x.protocol} ${x.state} run ${x.run}: ${fixed(size / 1e6 / (x.wallMs / 1000), 0)} MB/s, TTFB ${fixed(x.ttfbMs, 0)} ms, mirror ${fixed(x.serverCpu, 2)} CPU-s (${fixed(x.serverCpuSettled, 2)} settled), curl ${fixed(x.clientCpu, 2)}, other cores ${fixed(x.otherCores, 2)}`);
  return `H2 VS HTTP/1.1 THROUGH THE MIRROR\n${table(rows)}\n\n${notes.map((n) => `- ${n}`).join('\n')}\n\nEach pull:\n${each.join('\n')}`;
}

try {
  await main();
} catch (err) {
  process.stderr.write(`bench failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exitCode = 1;
}
