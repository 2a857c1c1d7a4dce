// The cache-hit load generator (bench/hit-throughput.ts starts it), a process of its own so that its CPU is
// measured apart from the server's: CONNECTIONS keep-alive connections (each a TCP connection of its own, so
// node:cluster, or the kernel for nginx, spreads them over the workers), over TLS with HTTP/1.1 (as registry
// clients pull blobs), GET one cached blob back to back, counting the bytes without keeping or hashing them (the
// cheapest client there is). THREADS worker threads share the connections, for machines where one thread cannot
// keep the servers busy. First WARMUP seconds (every worker's code paths and connections), then it prints
// `GO <epoch ms>` and counts for SECONDS; at the end one JSON line: requests, bytes, errors (a status other
// than 200 or a body of another size than SIZE), wall and the process's own CPU over the counted part.
import { readFileSync } from 'node:fs';
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import { Pool } from 'undici';

interface Args {
  url: string;
  path: string;
  size: number;
  connections: number;
  caFile: string;
  /** Epoch ms: counting starts, counting ends. */
  countFrom: number;
  until: number;
}

export interface Counts {
  requests: number;
  bytes: number;
  errors: number;
  firstError?: string;
}

/** One thread's connections, GETting until `until`; only what ends after `countFrom` is counted. */
async function drive(a: Args): Promise<Counts> {
  const ca = readFileSync(a.caFile, 'utf8');
  const pool = new Pool(a.url, { connections: a.connections, pipelining: 1, keepAliveTimeout: 60_000, allowH2: false, connect: { ca, ALPNProtocols: ['http/1.1'] } });
  const counts: Counts = { requests: 0, bytes: 0, errors: 0 };
  const loop = async (): Promise<void> => {
    while (Date.now() < a.until) {
      let bytes = 0;
      try {
        const res = await pool.request({ method: 'GET', path: a.path });
        for await (const chunk of res.body as AsyncIterable<Buffer>) {
          bytes += chunk.length;
          // Bytes by the time they arrive, so that a transfer across the start counts only its counted part.
          if (Date.now() >= a.countFrom) counts.bytes += chunk.length;
        }
        if (res.statusCode !== 200 || bytes !== a.size) throw new Error(`HTTP ${res.statusCode}, ${bytes} of ${a.size} bytes`);
        if (Date.now() >= a.countFrom) counts.requests++;
      } catch (err) {
        counts.errors++;
        counts.firstError ??= (err as Error).message;
      }
    }
  };
  await Promise.all(Array.from({ length: a.connections }, loop));
  await pool.close();
  return counts;
}

function inThread(a: Args): Promise<Counts> {
  const worker = new Worker(new URL(import.meta.url), { workerData: a });
  return new Promise((resolve, reject) => {
    worker.once('message', (c: Counts) => resolve(c));
    worker.once('error', reject);
  });
}

async function main(): Promise<void> {
  const [url = '', path = '', size = '0', connections = '32', threads = '1', warmup = '2', seconds = '10', caFile = ''] = process.argv.slice(2);
  const countFrom = Date.now() + Number(warmup) * 1000;
  const until = countFrom + Number(seconds) * 1000;
  const n = Math.max(1, Number(threads));
  // Connections dealt over the threads as evenly as they go.
  const share = (i: number): number => Math.floor(Number(connections) / n) + (i < Number(connections) % n ? 1 : 0);
  const args = (i: number): Args => ({ url, path, size: Number(size), connections: share(i), caFile, countFrom, until });
  let cpu0 = process.cpuUsage();
  let started = performance.now();
  setTimeout(() => {
    [cpu0, started] = [process.cpuUsage(), performance.now()];
    process.stdout.write(`GO ${Date.now()}\n`);
  }, countFrom - Date.now());
  const all = await Promise.all(Array.from({ length: n }, (_, i) => (i === 0 ? drive(args(0)) : inThread(args(i)))));
  const wall = (performance.now() - started) / 1000;
  const cpu = process.cpuUsage(cpu0);
  const sum = (f: (c: Counts) => number): number => all.reduce((s, c) => s + f(c), 0);
  const firstError = all.find((c) => c.firstError)?.firstError;
  process.stdout.write(`${JSON.stringify({ requests: sum((c) => c.requests), bytes: sum((c) => c.bytes), errors: sum((c) => c.errors), firstError, wall, cpu: (cpu.user + cpu.system) / 1e6 })}\n`);
}

if (isMainThread) await main();
else parentPort?.postMessage(await drive(workerData as Args));
