// The load generator of `npm run bench:workers`, a process of its own so that its CPU is measured apart from the
// server's: CONNECTIONS keep-alive connections (each a TCP connection of its own, so the kernel and node:cluster
// spread them over the workers), over TLS (HTTP/1.1, as registry clients pull blobs) when given a CA file, GET one cached blob back to back for SECONDS, counting the bytes without keeping
// or hashing them (the cheapest client there is). Prints one JSON line: requests, bytes, errors, wall and own CPU.
import { readFileSync } from 'node:fs';
import { Pool } from 'undici';

const [url = '', path = '', connectionsArg = '32', secondsArg = '10', caFile] = process.argv.slice(2);
const connections = Number(connectionsArg);
const seconds = Number(secondsArg);

async function main(): Promise<void> {
  const ca = caFile ? readFileSync(caFile, 'utf8') : undefined;
  const pool = new Pool(url, { connections, pipelining: 1, keepAliveTimeout: 60_000, allowH2: false, ...(ca ? { connect: { ca, ALPNProtocols: ['http/1.1'] } } : {}) });
  const until = Date.now() + seconds * 1000;
  let requests = 0;
  let bytes = 0;
  let errors = 0;
  const cpuBefore = process.cpuUsage();
  const started = performance.now();
  const loop = async (): Promise<void> => {
    while (Date.now() < until) {
      try {
        const res = await pool.request({ method: 'GET', path });
        for await (const chunk of res.body as AsyncIterable<Buffer>) bytes += chunk.length;
        if (res.statusCode === 200) requests++;
        else errors++;
      } catch (err) {
        if (errors++ === 0 && process.env.BENCH_WORKERS_DEBUG) process.stderr.write(`first error: ${(err as Error).stack}\n`);
      }
    }
  };
  await Promise.all(Array.from({ length: connections }, loop));
  const wall = (performance.now() - started) / 1000;
  const cpu = process.cpuUsage(cpuBefore);
  await pool.close();
  process.stdout.write(`${JSON.stringify({ requests, bytes, errors, wall, cpu: (cpu.user + cpu.system) / 1e6 })}\n`);
}

await main();
