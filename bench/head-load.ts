// Cached-tag HEAD manifest requests with keep-alive: a few connections, one request in flight per connection,
// so the latency of each request is its service time, not queueing. node:https with a keep-alive Agent, not
// undici: undici closes the connection after every HEAD (a guard against servers that send a body), which would
// make this a TLS handshake benchmark (about 6 ms of client CPU per request here).
import { Agent, request as httpsRequest } from 'node:https';
import { median } from './stats.js';

export const manifestAccept = [
  'application/vnd.docker.distribution.manifest.v2+json',
  'application/vnd.docker.distribution.manifest.list.v2+json',
  'application/vnd.oci.image.manifest.v1+json',
  'application/vnd.oci.image.index.v1+json',
].join(', ');

export interface HeadLoad {
  requests: number;
  perSecond: number;
  p50Ms: number;
  p99Ms: number;
  /** Answers that were not 200 with the expected digest. */
  errors: number;
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? Number.NaN;
}

function once(agent: Agent, url: URL, method: string, ca: string): Promise<{ status: number; digest: string | undefined }> {
  return new Promise((resolve, reject) => {
    const req = httpsRequest(url, { method, agent, ca, headers: { accept: manifestAccept } }, (res) => {
      res.resume();
      res.once('end', () => resolve({ status: res.statusCode ?? 0, digest: res.headers['docker-content-digest'] as string | undefined }));
      res.once('error', reject);
    });
    req.once('error', reject);
    req.end();
  });
}

/** One GET to warm the tag, then `total` HEADs over `connections` keep-alive connections. */
export async function headLoad(o: { baseUrl: string; path: string; ca: string; digest: string; total: number; connections: number }): Promise<HeadLoad> {
  const agent = new Agent({ keepAlive: true, maxSockets: o.connections, ca: o.ca });
  const url = new URL(o.path, o.baseUrl);
  try {
    const warm = await once(agent, url, 'GET', o.ca);
    if (warm.status !== 200) throw new Error(`warming ${url.href}: HTTP ${warm.status}`);
    const latencies: number[] = [];
    let errors = 0;
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next++ < o.total) {
        const t0 = performance.now();
        const res = await once(agent, url, 'HEAD', o.ca);
        latencies.push(performance.now() - t0);
        if (res.status !== 200 || (res.digest !== undefined && res.digest !== o.digest)) errors++;
      }
    };
    const started = performance.now();
    await Promise.all(Array.from({ length: o.connections }, worker));
    const seconds = (performance.now() - started) / 1000;
    latencies.sort((a, b) => a - b);
    return { requests: latencies.length, perSecond: latencies.length / seconds, p50Ms: median(latencies), p99Ms: percentile(latencies, 99), errors };
  } finally {
    agent.destroy();
  }
}
