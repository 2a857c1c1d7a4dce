// BENCH_SCENARIO=sni: what a TLS passthrough route (docs/clients.md, "TLS") costs. A docker-registry serving its own
// TLS sits behind Pullgate's HTTPS port (the built dist/ as a child process); the same client reaches it directly and
// through the pipe, alternating: many TLS handshakes (added connection latency) and a large blob over curl
// (throughput). The same through nginx's `stream` proxy with ssl_preread (a relay in C, no TLS termination) shows what
// any user-space relay costs here.
import { execFile } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { connect as tlsConnect } from 'node:tls';
import { promisify } from 'node:util';
import { stringify } from 'yaml';
import { writeLargeBlob, type LargeBlob } from '../test/support/large-blob.js';
import { startLoadBalancer } from '../test/support/load-balancer.js';
import { startRealRegistry, type RealRegistry } from '../test/support/real-registry.js';
import { spawnChild, type Child } from './child.js';
import { mirrorEnv, type BenchConfig } from './config.js';
import { cpuSeconds, findPid, waitForQuiet } from './proc-stats.js';
import { fixed, median, MiB, table } from './stats.js';

const run = promisify(execFile);
const repository = 'bench/sni';
type Path = 'direct' | 'pipe' | 'nginx';
const paths: readonly Path[] = ['direct', 'pipe', 'nginx'];
/** Each run and handshake round visits the paths in a rotated order. */
const rotated = (i: number): Path[] => paths.map((_, k) => paths[(k + i) % paths.length] as Path);

export interface SniScenarioOptions {
  cfg: BenchConfig;
  tmp: string;
  mirrorRoot: string;
  log: (msg: string) => void;
  cleanup: (step: () => Promise<unknown>) => void;
}

function handshakesWanted(): number {
  const raw = process.env['BENCH_SNI_HANDSHAKES'];
  const n = raw === undefined || raw === '' ? 400 : Number(raw);
  if (!Number.isInteger(n) || n <= 0) throw new Error(`BENCH_SNI_HANDSHAKES must be a positive integer, got ${raw}`);
  return n;
}

/** Pullgate with one passthrough route: the registry's own name -> the registry's port. */
async function startPullgate(o: SniScenarioOptions, reg: RealRegistry): Promise<{ child: Child; port: number }> {
  const dir = join(o.tmp, 'sni-mirror');
  await mkdir(dir, { recursive: true });
  const cert = await reg.ca.issue('bench-sni-mirror', ['mirror.bench.test'], ['127.0.0.1']);
  const configPath = join(dir, 'pullgate.yaml');
  await writeFile(
    configPath,
    stringify({
      listen: { https: '127.0.0.1:0' },
      tls: { certificates: [{ cert: cert.certPath, key: cert.keyPath }], passthrough: [{ sni: reg.hostname, to: reg.host }] },
      log: { level: 'info' },
      dataDir: join(dir, 'data'),
      upstreams: [{ name: 'up', registry: 'docker.io', url: reg.url, ca: reg.caFile, default: true }],
    }),
  );
  let listening: (url: string) => void = () => undefined;
  const ready = new Promise<string>((resolve) => (listening = resolve));
  const child = spawnChild({
    name: 'pullgate (sni)',
    command: process.execPath,
    args: [...o.cfg.mirrorNodeArgs, join(o.mirrorRoot, 'dist', 'src', 'main.js'), 'serve', '--config', configPath],
    env: mirrorEnv(),
    cwd: dir,
    onLine: (line) => {
      const m = /"msg":"pullgate listening"/.test(line) ? /"https":"([^"]+)"/.exec(line) : null;
      if (m?.[1]) listening(m[1]);
    },
  });
  o.cleanup(() => child.stop());
  const timeout = new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`Pullgate did not start:\n${child.output()}`)), 20_000).unref());
  const url = await Promise.race([ready, timeout, child.exit.then(() => Promise.reject(new Error(`Pullgate exited:\n${child.output()}`)))]);
  return { child, port: Number(new URL(url).port) };
}

/** TCP connect + full TLS handshake with the registry's name, verified against its CA; milliseconds. */
function handshakeMs(port: number, servername: string, ca: string): Promise<number> {
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const socket = tlsConnect({ host: '127.0.0.1', port, servername, ca, ALPNProtocols: ['http/1.1'] }, () => {
      const ms = performance.now() - started;
      socket.destroy();
      resolve(ms);
    });
    socket.once('error', reject);
  });
}

/** One blob GET by curl with the registry's name resolved to `port`; seconds of transfer and bytes. */
async function curlBlob(reg: RealRegistry, port: number, blob: LargeBlob): Promise<{ seconds: number; bytes: number }> {
  const url = `https://${reg.hostname}:${port}/v2/${repository}/blobs/${blob.digest}`;
  const args = ['-s', '--http1.1', '-o', '/dev/null', '--cacert', reg.caFile, '--resolve', `${reg.hostname}:${port}:127.0.0.1`, '--max-time', '600'];
  const { stdout } = await run('curl', [...args, '-w', '%{http_code} %{time_appconnect} %{time_total} %{size_download}', url]);
  const [code, appconnect, total, size] = stdout.trim().split(' ').map(Number);
  if (code !== 200 || size !== blob.size) throw new Error(`curl ${url}: HTTP ${String(code)}, ${String(size)} of ${blob.size} bytes`);
  // Transfer time without the handshake, so that the throughput figure is the pipe's streaming alone.
  return { seconds: (total ?? Number.NaN) - (appconnect ?? 0), bytes: size };
}

export async function runSniScenario(o: SniScenarioOptions): Promise<string> {
  const started = Date.now();
  const loadBefore = loadavg()[1] ?? Number.NaN;
  o.log('sni: starting docker-registry with its own TLS (no auth, no redirects)');
  const reg = await startRealRegistry({ auth: false, redirectBlobs: false });
  o.cleanup(() => reg.stop());
  const registryPid = await findPid('docker-registry', 'serve', join(reg.dir, 'config.yml'));
  o.log(`sni: writing a ${o.cfg.sizeBytes / MiB} MiB blob`);
  const blob = await writeLargeBlob(reg, repository, o.cfg.sizeBytes);
  const pullgate = await startPullgate(o, reg);
  const nginx = await startLoadBalancer({ backends: [reg.host], tlsBackends: [reg.host], sslPreread: true });
  o.cleanup(() => nginx.stop());
  const ports: Record<Path, number> = { direct: Number(new URL(reg.url).port), pipe: pullgate.port, nginx: nginx.tlsPort ?? 0 };
  const n = handshakesWanted();

  o.log(`sni: ${n} handshakes per path, alternating`);
  for (let i = 0; i < 20; i++) for (const p of paths) await handshakeMs(ports[p], reg.hostname, reg.ca.caCertPem);
  const hs: Record<Path, number[]> = { direct: [], pipe: [], nginx: [] };
  if (!(await waitForQuiet({ timeoutMs: o.cfg.quietTimeoutMs }))) o.log('sni: the machine did not get quiet; measuring anyway');
  for (let i = 0; i < n; i++) {
    for (const p of rotated(i)) hs[p].push(await handshakeMs(ports[p], reg.hostname, reg.ca.caCertPem));
  }

  const transfers: Record<Path, Array<{ seconds: number; cpu: Record<string, number> }>> = { direct: [], pipe: [], nginx: [] };
  const pids = { registry: registryPid, pullgate: pullgate.child.pid, nginx: nginx.pid };
  const cpuNow = async (): Promise<Record<string, number>> =>
    Object.fromEntries(await Promise.all(Object.entries(pids).map(async ([k, pid]) => [k, await cpuSeconds(pid)] as const)));
  for (let r = 0; r < o.cfg.runs; r++) {
    for (const p of rotated(r)) {
      if (!(await waitForQuiet({ timeoutMs: o.cfg.quietTimeoutMs }))) o.log('sni: the machine did not get quiet; measuring anyway');
      const cpu0 = await cpuNow();
      const t = await curlBlob(reg, ports[p], blob);
      const cpu1 = await cpuNow();
      const cpu = Object.fromEntries(Object.keys(pids).map((k) => [k, (cpu1[k] ?? 0) - (cpu0[k] ?? 0)]));
      transfers[p].push({ seconds: t.seconds, cpu });
      o.log(`sni run ${r + 1}/${o.cfg.runs} ${p}: ${(t.bytes / MiB / t.seconds).toFixed(0)} MiB/s, Pullgate CPU ${fixed(cpu['pullgate'], 2)} s, nginx CPU ${fixed(cpu['nginx'], 2)} s`);
    }
  }

  const mibps = (p: Path): number[] => transfers[p].map((t) => blob.size / MiB / t.seconds);
  const hsMedian = { direct: median(hs.direct), pipe: median(hs.pipe), nginx: median(hs.nginx) };
  const p90 = (v: number[]): number => [...v].sort((a, b) => a - b)[Math.floor(v.length * 0.9)] ?? Number.NaN;
  const tp = { direct: median(mibps('direct')), pipe: median(mibps('pipe')), nginx: median(mibps('nginx')) };
  const label: Record<Path, string> = { direct: 'direct to docker-registry', pipe: 'through the passthrough pipe', nginx: 'through nginx stream (peer)' };
  const rows = [
    ['path', 'handshake median ms', 'p90 ms', `${o.cfg.sizeBytes / MiB} MiB median MiB/s`, 'runs MiB/s', 'Pullgate CPU-s', 'nginx CPU-s', 'registry CPU-s'],
    ...paths.map((p) => [
      label[p],
      fixed(hsMedian[p], 3),
      fixed(p90(hs[p]), 3),
      fixed(tp[p], 0),
      mibps(p).map((v) => v.toFixed(0)).join(' / '),
      fixed(median(transfers[p].map((t) => t.cpu['pullgate'] ?? 0)), 2),
      fixed(median(transfers[p].map((t) => t.cpu['nginx'] ?? 0)), 2),
      fixed(median(transfers[p].map((t) => t.cpu['registry'] ?? 0)), 2),
    ]),
  ];
  const curl = await run('curl', ['--version']).then((r) => r.stdout.split(' ').slice(0, 2).join(' '), () => 'curl');
  return [
    'SNI PASSTHROUGH SCENARIO',
    table(rows),
    '',
    `added latency per connection (median): ${fixed(hsMedian.pipe - hsMedian.direct, 3)} ms`,
    `throughput through the pipe / direct (medians): ${fixed(tp.pipe / tp.direct, 3)} (goal >= 0.95)`,
    `peer: nginx stream / direct ${fixed(tp.nginx / tp.direct, 3)}, added latency ${fixed(hsMedian.nginx - hsMedian.direct, 3)} ms; Pullgate's pipe / nginx's ${fixed(tp.pipe / tp.nginx, 3)}`,
    '',
    'how measured:',
    `- handshakes: ${n} per path after 20 warm-ups, alternating; node:tls in the bench process, TCP connect + TLS handshake to secureConnect, SNI ${reg.hostname}, verified with the registry's CA, then destroyed`,
    `- transfer: ${curl}, HTTP/1.1, -o /dev/null, --resolve ${reg.hostname} to 127.0.0.1, ${o.cfg.runs} runs per path alternating; time_total - time_appconnect; integrity is TLS's own (the pipe cannot alter a byte without breaking the record MAC) and curl checks the length`,
    '- server: docker-registry (distribution) with its own TLS, blob served from its filesystem storage; Pullgate: node dist/src/main.js with one tls.passthrough route to it; nginx: Debian nginx, one process, `stream { ssl_preread on; proxy_pass }` to it (like Pullgate, it reads the ClientHello before connecting; the same bytes relayed); each waits for a quiet machine first',
    `- CPU-s: utime+stime from /proc/<pid>/stat around each transfer; total scenario time ${((Date.now() - started) / 1000).toFixed(0)} s`,
    `- machine: 2 cores shared with other work; 5-minute load average ${fixed(loadBefore, 1)} at the start, ${fixed(loadavg()[1], 1)} at the end (every process on the path competes for the same cores, so a loaded machine widens both gaps)`,
  ].join('\n');
}
