// N concurrent cold pulls of one blob, each a curl child process (the bench process would be the bottleneck on
// 2 cores otherwise). The body goes through a pipe whose first byte stamps the time (first *body* byte, not the
// response headers); client 0 also pipes it through sha256sum, the others discard it.
import { spawn } from 'node:child_process';
import type { LargeBlob } from '../test/support/large-blob.js';
import { TransferError } from './light-client.js';
import { childrenCpuSeconds } from './proc-stats.js';

export interface ClientResult {
  /** From the common start to the first body byte / to the end, ms. */
  ttfbMs: number;
  wallMs: number;
  bytes: number;
}

export interface ConcurrentPulls {
  clients: ClientResult[];
  /** From the common start until the last client finished, ms. */
  totalMs: number;
  /** CPU-seconds of all the client processes (curl, dd, cat, sha256sum). */
  clientCpu: number;
}

function script(verify: boolean): string {
  const sink = verify ? '| sha256sum' : '> /dev/null';
  return (
    'set -o pipefail; curl -sS --http1.1 --cacert "$CA" --max-time "$MAXTIME" ' +
    `-w '%{stderr}R %{http_code} %{size_download}\\n' "$URL" | { dd bs=1 count=1 status=none; date '+F %s.%N' >&2; cat; } ${sink}`
  );
}

function oneClient(url: string, blob: LargeBlob, o: { caFile: string; timeoutMs: number; verify: boolean; startEpochMs: number }): Promise<ClientResult> {
  return new Promise((resolve, reject) => {
    const env = { ...process.env, CA: o.caFile, URL: url, MAXTIME: String(Math.ceil(o.timeoutMs / 1000)) };
    const child = spawn('bash', ['-c', script(o.verify)], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.setEncoding('utf8').on('data', (t: string) => (out += t));
    child.stderr.setEncoding('utf8').on('data', (t: string) => (err += t));
    child.once('error', reject);
    child.once('close', (code) => {
      const endMs = Date.now() - o.startEpochMs;
      const first = /^F (\d+\.\d+)$/m.exec(err);
      const result = /^R (\d+) (\d+)$/m.exec(err);
      const fail = (why: string): void => reject(new TransferError(`concurrent client ${url}: ${why}; exit ${String(code)}; ${err.slice(0, 300)}`));
      if (code !== 0 || !first || !result) return fail('curl failed');
      if (Number(result[1]) !== 200) return fail(`HTTP ${result[1]}`);
      if (Number(result[2]) !== blob.size) return fail(`got ${result[2]} bytes, expected ${blob.size}`);
      if (o.verify && `sha256:${out.trim().split(/\s+/)[0] ?? ''}` !== blob.digest) return fail(`digest mismatch: ${out.trim()}`);
      resolve({ ttfbMs: Number(first[1]) * 1000 - o.startEpochMs, wallMs: endMs, bytes: Number(result[2]) });
    });
  });
}

/** `clients` curl pulls started together, client i from `url` (or `url[i % n]`: replicas); client 0 verifies the sha256. */
export async function concurrentPulls(url: string | string[], blob: LargeBlob, o: { clients: number; caFile: string; timeoutMs: number }): Promise<ConcurrentPulls> {
  const urls = Array.isArray(url) ? url : [url];
  const cpu0 = await childrenCpuSeconds();
  const startEpochMs = Date.now();
  const clients = await Promise.all(
    Array.from({ length: o.clients }, (_, i) => oneClient(urls[i % urls.length]!, blob, { caFile: o.caFile, timeoutMs: o.timeoutMs, verify: i === 0, startEpochMs })),
  );
  const totalMs = Date.now() - startEpochMs;
  return { clients, totalMs, clientCpu: (await childrenCpuSeconds()) - cpu0 };
}
