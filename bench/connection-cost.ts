// What one client connection costs the mirror's memory: the built mirror as its own process (with
// bench/memory-probe.mjs loaded), then for each protocol (plain HTTP/1.1, HTTP/1.1 over TLS, h2) `BENCH_CONN_COUNT`
// (200) connections opened to it, each with one cached-tag HEAD answered and then idle, and then each with a
// `BENCH_CONN_BLOB_MB` (32) MiB cached blob GET in flight to a client that stops reading. Prints RSS and its split
// (V8 heap, external, native) at each step and the difference per connection. A fresh mirror per protocol.
// `node --import tsx bench/connection-cost.ts` (docs/operating.md, "Memory"; bench/README.md).
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { connect as h2Connect, type ClientHttp2Session } from 'node:http2';
import { connect as netConnect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { connect as tlsConnect } from 'node:tls';
import { fileURLToPath } from 'node:url';
import { stringify } from 'yaml';
import { createTestCa } from '../test/support/pki.js';
import { FakeUpstream } from '../test/support/fake/fake-upstream.js';
import { spawnChild } from './child.js';
import { mirrorEnv, mirrorNodeArgs, mirrorSetup } from './config.js';
import { memoryProbeArgs, MemorySamples, other, type MemorySample } from './memory-report.js';
import { memory } from './proc-stats.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const mirrorRoot = process.env.BENCH_MIRROR_ROOT ?? root;
const count = Number(process.env.BENCH_CONN_COUNT ?? 200);
const blobBytes = Number(process.env.BENCH_CONN_BLOB_MB ?? 32) * 1024 * 1024;
type Protocol = 'http/1.1' | 'http/1.1+tls' | 'h2';
const protocols = (process.env.BENCH_CONN_PROTOCOLS ?? 'http/1.1,http/1.1+tls,h2').split(',') as Protocol[];
/** BENCH_CONN_SNAPSHOTS: a directory where the mirror writes a V8 heap snapshot at each step (what the heap holds). */
const snapshots = process.env.BENCH_CONN_SNAPSHOTS;
const log = (text: string): void => void process.stderr.write(`[bench:conn] ${text}\n`);

/** A client connection: `head()` answers one request and leaves it idle; `stall()` starts a GET and stops reading. */
interface Conn {
  head(path: string): Promise<void>;
  stall(path: string): Promise<void>;
  close(): void;
}

function rawConn(socket: Socket, host: string): Conn {
  let received = '';
  let waiting: (() => void) | undefined;
  socket.setEncoding('latin1');
  socket.on('data', (text: string) => {
    received += text;
    if (waiting && received.includes('\r\n\r\n')) waiting();
  });
  socket.on('error', () => undefined);
  const ask = (method: string, path: string): Promise<void> => {
    received = '';
    socket.write(`${method} ${path} HTTP/1.1\r\nHost: ${host}\r\n\r\n`);
    return new Promise((resolve) => (waiting = resolve));
  };
  return {
    head: (path) => ask('HEAD', path),
    stall: async (path) => {
      await ask('GET', path);
      socket.pause();
    },
    close: () => socket.destroy(),
  };
}

function h2Conn(session: ClientHttp2Session): Conn {
  session.on('error', () => undefined);
  const ask = (method: string, path: string, stall: boolean): Promise<void> =>
    new Promise((resolve, reject) => {
      const stream = session.request({ ':method': method, ':path': path });
      stream.on('error', () => undefined);
      stream.once('response', (headers) => {
        if (headers[':status'] !== 200) reject(new Error(`${method} ${path}: ${String(headers[':status'])}`));
        if (stall) stream.pause();
        else stream.resume();
        resolve();
      });
      stream.end();
    });
  return { head: (path) => ask('HEAD', path, false), stall: (path) => ask('GET', path, true), close: () => session.destroy() };
}

async function open(protocol: Protocol, http: URL, https: URL): Promise<Conn> {
  if (protocol === 'h2') {
    const session = h2Connect(https.origin, { rejectUnauthorized: false });
    await new Promise<void>((resolve, reject) => session.once('connect', () => resolve()).once('error', reject));
    return h2Conn(session);
  }
  if (protocol === 'http/1.1') {
    const socket = netConnect(Number(http.port), http.hostname);
    await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject));
    return rawConn(socket, http.host);
  }
  const socket = tlsConnect({ host: https.hostname, port: Number(https.port), rejectUnauthorized: false, ALPNProtocols: ['http/1.1'] });
  await new Promise<void>((resolve, reject) => socket.once('secureConnect', resolve).once('error', reject));
  return rawConn(socket, https.host);
}

const mib = (b: number): string => (b / 1024 / 1024).toFixed(1);
const kib = (b: number): string => (b / 1024).toFixed(0);

interface Step {
  rss: number;
  probe: MemorySample;
}

/** RSS once the process settles: the probe's last sample after a pause (median of three /proc readings). */
async function settle(pid: number, probe: MemorySamples): Promise<Step> {
  await sleep(3_000);
  const rss: number[] = [];
  for (let i = 0; i < 3; i++, await sleep(300)) rss.push((await memory(pid)).rss);
  const step = { rss: rss.sort((a, b) => a - b)[1]!, probe: probe.latest()! };
  if (snapshots) {
    process.kill(pid, 'SIGUSR2');
    await sleep(15_000);
  }
  return step;
}

function line(label: string, s: Step, base?: Step): string {
  const parts = `rss ${mib(s.rss)} MiB = heap ${mib(s.probe.heapTotal)} + external ${mib(s.probe.external)} + native ${mib(other(s.probe))}`;
  if (!base) return `  ${label}: ${parts}`;
  const per = (f: (x: Step) => number): string => kib((f(s) - f(base)) / count);
  return `  ${label}: ${parts}; per connection: rss ${per((x) => x.rss)} KiB (heap ${per((x) => x.probe.heapTotal)}, external ${per((x) => x.probe.external)}, native ${per((x) => other(x.probe))})`;
}

async function measure(protocol: Protocol, dir: string, up: FakeUpstream, certs: { cert: string; key: string }, paths: { head: string; blob: string }): Promise<string[]> {
  const configPath = join(dir, `${protocol.replace(/\W/g, '-')}.yaml`);
  await writeFile(
    configPath,
    stringify({
      listen: { http: '127.0.0.1:0', https: '127.0.0.1:0' },
      tls: { certificates: [certs] },
      dataDir: join(dir, `data-${protocol.replace(/\W/g, '-')}`),
      log: { level: 'info' },
      upstreams: [{ name: 'up', registry: 'docker.io', url: up.url, default: true }],
    }),
  );
  const probe = new MemorySamples();
  let listening: (urls: { http: string; https: string }) => void = () => undefined;
  const ready = new Promise<{ http: string; https: string }>((resolve) => (listening = resolve));
  const mirror = spawnChild({
    name: 'pullgate mirror',
    command: process.execPath,
    args: [
      ...mirrorNodeArgs(),
      '--expose-gc',
      ...(snapshots ? ['--heapsnapshot-signal=SIGUSR2', `--diagnostic-dir=${snapshots}`] : []),
      ...memoryProbeArgs(),
      join(mirrorRoot, 'dist', 'src', 'main.js'),
      'serve',
      '--config',
      configPath,
    ],
    cwd: dir,
    // A full collection before each probe sample: what is measured is what is live or kept, not garbage.
    env: { ...mirrorEnv(), BENCH_PROBE_MS: '500', BENCH_PROBE_GC: '1' },
    onLine: (l) => {
      if (!probe.onLine(l) && l.includes('"pullgate listening"')) listening(JSON.parse(l) as { http: string; https: string });
    },
  });
  const conns: Conn[] = [];
  try {
    const urls = await Promise.race([ready, sleep(30_000).then(() => Promise.reject(new Error(`mirror not listening:\n${mirror.output()}`)))]);
    const http = new URL(urls.http);
    const https = new URL(urls.https);
    // The cache filled and the first response of each kind served once before the baseline.
    const first = await open(protocol, http, https);
    await first.head(paths.head);
    const fill = await fetch(`${http.origin}${paths.blob}`);
    await fill.arrayBuffer();
    await first.head(paths.head);
    const out = [`${protocol}, ${count} connections, ${mib(blobBytes)} MiB blob:`];
    const base = await settle(mirror.pid, probe);
    out.push(line('baseline (one connection)', base));
    for (let i = 0; i < count; i++) conns.push(await open(protocol, http, https));
    await Promise.all(conns.map((c) => c.head(paths.head)));
    const idle = await settle(mirror.pid, probe);
    out.push(line(`${count} idle (one HEAD answered each)`, idle, base));
    await Promise.all(conns.map((c) => c.stall(paths.blob)));
    const inFlight = await settle(mirror.pid, probe);
    out.push(line(`${count} with a blob GET in flight, not read`, inFlight, base));
    for (const c of conns.splice(0)) c.close();
    const after = await settle(mirror.pid, probe);
    out.push(line('after they closed', after, base));
    return out;
  } finally {
    for (const c of conns) c.close();
    await mirror.stop(5_000);
  }
}

async function main(): Promise<void> {
  if (process.env.BENCH_SKIP_BUILD !== '1') {
    log('building dist/ (tsc -p tsconfig.build.json)');
    execFileSync(process.execPath, [join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', join(root, 'tsconfig.build.json')], { stdio: 'inherit' });
  }
  const dir = await mkdtemp(join(tmpdir(), 'pullgate-conn-'));
  const up = await new FakeUpstream().start();
  try {
    const ca = await createTestCa(join(dir, 'ca'));
    const leaf = await ca.issue('mirror', ['localhost'], ['127.0.0.1']);
    const manifest = up.addImage('conn/probe', 'latest', [randomBytes(blobBytes)]);
    const layer = (JSON.parse(manifest.bytes.toString('utf8')) as { layers: Array<{ digest: string }> }).layers[0]!.digest;
    const paths = { head: '/v2/conn/probe/manifests/latest', blob: `/v2/conn/probe/blobs/${layer}` };
    const lines = [`mirror process: ${mirrorSetup()}${mirrorRoot === root ? '' : `; built from ${mirrorRoot}`}`];
    for (const protocol of protocols) {
      log(protocol);
      lines.push(...(await measure(protocol, dir, up, { cert: leaf.certPath, key: leaf.keyPath }, paths)));
    }
    process.stdout.write(`${lines.join('\n')}\n`);
  } finally {
    await up.stop();
    await rm(dir, { recursive: true, force: true });
  }
}

await main();
