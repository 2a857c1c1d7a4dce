// `npm run bench:workers` (under the e2e lock): cache-hit throughput with 1, 2 and N workers (`workers`,
// docs/workers.md). For each count: a server on a fresh data directory, one blob pulled once (the fill), a short
// warm-up, then the load generator (bench/workers-load.ts, a process of its own: keep-alive connections GETting
// the cached blob, counting bytes) for BENCH_WORKERS_SECONDS. Server CPU is read from /proc for the supervisor and
// every worker, the generator's from its own process, so the table says what the server itself costs per GB and
// how many cores it kept busy, apart from the client that shares the machine with it.
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { request } from 'undici';
import { stringify } from 'yaml';
import { FakeUpstream } from '../test/support/fake/fake-upstream.js';
import { spawnChild, type Child } from './child.js';
import { cpuSeconds } from './proc-stats.js';

const num = (name: string, fallback: number): number => {
  const value = Number(process.env[name] ?? fallback);
  if (!Number.isFinite(value) || value <= 0) throw new Error(`${name} must be a positive number`);
  return value;
};
const cfg = {
  counts: [...new Set((process.env.BENCH_WORKERS ?? `1,2,${Math.max(availableParallelism(), 4)}`).split(',').map(Number))],
  seconds: num('BENCH_WORKERS_SECONDS', 10),
  connections: num('BENCH_WORKERS_CONNECTIONS', 32),
  blobBytes: num('BENCH_WORKERS_BLOB_MIB', 4) * 1024 * 1024,
  runs: num('BENCH_WORKERS_RUNS', 3),
  /** HTTPS (what registry clients use) unless BENCH_WORKERS_TLS=0. */
  tls: process.env.BENCH_WORKERS_TLS !== '0',
};
const root = fileURLToPath(new URL('..', import.meta.url));
const log = (text: string): void => void process.stderr.write(`[bench:workers] ${text}\n`);

interface Generated {
  requests: number;
  bytes: number;
  errors: number;
  wall: number;
  cpu: number;
}

interface Row extends Generated {
  workers: number;
  serverCpu: number;
}

/** The server's processes: the supervisor and its children (the workers). */
async function serverPids(pid: number): Promise<number[]> {
  const children = await readFile(`/proc/${pid}/task/${pid}/children`, 'utf8').catch(() => '');
  return [pid, ...children.split(' ').filter(Boolean).map(Number)];
}

async function serverCpu(pid: number): Promise<number> {
  const pids = await serverPids(pid);
  const each = await Promise.all(pids.map((p) => cpuSeconds(p).catch(() => 0)));
  return each.reduce((a, b) => a + b, 0);
}

/** A development CA and certificate for 127.0.0.1, through the CLI. */
async function certificate(dir: string): Promise<{ cert: string; key: string; ca: string }> {
  const out = join(dir, 'tls');
  const gen = spawnChild({ name: 'cert', command: process.execPath, args: ['--import', 'tsx', join(root, 'src', 'main.ts'), 'cert', 'selfsigned', '--hosts', '127.0.0.1', '--out', out], cwd: root });
  await gen.exit;
  return { cert: join(out, 'cert.pem'), key: join(out, 'key.pem'), ca: join(out, 'ca.pem') };
}

async function startServer(dir: string, workers: number, upstream: string, tls?: { cert: string; key: string }): Promise<{ child: Child; url: string; https?: string }> {
  const file = join(dir, 'pullgate.yaml');
  const listen = { http: '127.0.0.1:0', ...(tls ? { https: '127.0.0.1:0' } : {}) };
  await writeFile(file, stringify({ workers, listen, ...(tls ? { tls: { certificates: [tls] } } : {}), dataDir: join(dir, 'data'), log: { level: 'info' }, upstreams: [{ name: 'hub', registry: 'docker.io', url: upstream, default: true }] }));
  const ready = workers > 1 ? '"pullgate workers listening"' : '"pullgate listening"';
  let url: string | undefined;
  let https: string | undefined;
  const child = spawnChild({
    name: `pullgate x${workers}`,
    command: process.execPath,
    args: ['--import', 'tsx', join(root, 'src', 'main.ts'), 'serve', '--config', file],
    cwd: root,
    onLine: (line) => {
      if (!line.includes(ready)) return;
      ({ http: url, https } = JSON.parse(line) as { http: string; https?: string });
    },
  });
  for (const deadline = Date.now() + 60_000; !url; await sleep(50)) {
    if (child.exited() || Date.now() > deadline) throw new Error(`pullgate did not start:\n${child.output()}`);
  }
  return { child, url, ...(https ? { https } : {}) };
}

async function generate(url: string, path: string, seconds: number, ca?: string): Promise<Generated> {
  let out = '';
  const gen = spawnChild({
    name: 'load generator',
    command: process.execPath,
    args: ['--import', 'tsx', join(root, 'bench', 'workers-load.ts'), url, path, String(cfg.connections), String(seconds), ...(ca ? [ca] : [])],
    cwd: root,
    onLine: (line) => {
      if (line.startsWith('{')) out = line;
    },
  });
  await gen.exit;
  if (!out) throw new Error(`the load generator failed:\n${gen.output()}`);
  return JSON.parse(out) as Generated;
}

async function measure(workers: number, up: FakeUpstream, digest: string): Promise<Row> {
  const dir = await mkdtemp(join(tmpdir(), 'pullgate-bench-workers-'));
  const tls = cfg.tls ? await certificate(dir) : undefined;
  const { child, url, https } = await startServer(dir, workers, up.url, tls && { cert: tls.cert, key: tls.key });
  try {
    const path = `/v2/library/bench/blobs/${digest}`;
    const fill = await request(`${url}${path}`);
    await fill.body.dump();
    if (fill.statusCode !== 200) throw new Error(`the fill answered ${fill.statusCode}`);
    const target = https ?? url;
    await generate(target, path, 2, tls?.ca); // warm-up: every worker's code paths and connections
    const before = await serverCpu(child.pid);
    const g = await generate(target, path, cfg.seconds, tls?.ca);
    const serverCpuSeconds = (await serverCpu(child.pid)) - before;
    return { workers, ...g, serverCpu: serverCpuSeconds };
  } finally {
    await child.stop(30_000);
    await rm(dir, { recursive: true, force: true });
  }
}

function table(rows: Row[]): string {
  const gb = (r: Row) => r.bytes / 1e9;
  const lines = [
    `cache hits of one ${cfg.blobBytes / 1048576} MiB blob over ${cfg.tls ? 'HTTPS' : 'plain HTTP'}, ${cfg.connections} keep-alive connections, ${cfg.seconds} s each, median of ${cfg.runs} runs by MB/s; ${availableParallelism()} cores on this machine, load average ${loadavg().map((l) => l.toFixed(1)).join(' ')}`,
    '| workers | req/s | MB/s | server cores busy | server CPU-s/GB | generator cores busy | generator CPU-s/GB | errors |',
    '|---|---|---|---|---|---|---|---|',
    ...rows.map((r) =>
      `| ${r.workers} | ${(r.requests / r.wall).toFixed(0)} | ${(r.bytes / 1e6 / r.wall).toFixed(0)} | ${(r.serverCpu / r.wall).toFixed(2)} | ${(r.serverCpu / gb(r)).toFixed(2)} | ${(r.cpu / r.wall).toFixed(2)} | ${(r.cpu / gb(r)).toFixed(2)} | ${r.errors} |`,
    ),
  ];
  const one = rows.find((r) => r.workers === 1);
  if (one) {
    const perCore = gb(one) / one.serverCpu;
    lines.push('', `one worker's cost: ${(one.serverCpu / gb(one)).toFixed(2)} CPU-s per GB, i.e. ${(perCore * 8).toFixed(2)} Gbit/s per fully busy core`);
  }
  return lines.join('\n');
}

async function main(): Promise<void> {
  const up = await new FakeUpstream().start();
  const digest = up.addBlob(Buffer.alloc(cfg.blobBytes, 7));
  const rows: Row[] = [];
  try {
    for (const workers of cfg.counts) {
      const runs: Row[] = [];
      for (let run = 1; run <= cfg.runs; run++) {
        log(`${workers} worker(s), run ${run}/${cfg.runs}`);
        runs.push(await measure(workers, up, digest));
      }
      runs.sort((a, b) => a.bytes / a.wall - b.bytes / b.wall);
      rows.push(runs[Math.floor(runs.length / 2)]!);
    }
  } finally {
    await up.stop();
  }
  process.stdout.write(`${table(rows)}\n`);
}

await main();
