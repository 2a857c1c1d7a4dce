// Reading a Prometheus text exposition in tests: the value of one series, or the sum over the series whose labels
// include the ones asked for. A scrape is served by a tiny fastify instance that registers the operations routes
// with /metrics, as the admin listener will.
import Fastify, { type FastifyInstance } from 'fastify';
import { request } from 'undici';
import { registerOperationsRoutes, type Operations } from '../../src/server/operations-routes.js';

export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

export function parseExposition(text: string): Sample[] {
  const out: Sample[] = [];
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m) throw new Error(`not an exposition line: ${line}`);
    const labels: Record<string, string> = {};
    for (const [, k, v] of (m[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) labels[k!] = v!;
    out.push({ name: m[1]!, labels, value: Number(m[3]) });
  }
  return out;
}

/** The sum of every series named `name` whose labels include `labels` (0 when there is none). */
export function total(samples: Sample[], name: string, labels: Record<string, string> = {}): number {
  return samples
    .filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v))
    .reduce((sum, s) => sum + s.value, 0);
}

export interface MetricsEndpoint {
  url: string;
  scrape(): Promise<{ contentType: string; samples: Sample[]; text: string }>;
  close(): Promise<void>;
}

/** The /metrics of a running admin listener. */
export function adminMetrics(adminUrl: string): MetricsEndpoint {
  return {
    url: adminUrl,
    async scrape() {
      const res = await request(`${adminUrl}/metrics`);
      const text = await res.body.text();
      if (res.statusCode !== 200) throw new Error(`/metrics answered ${res.statusCode}: ${text}`);
      return { contentType: String(res.headers['content-type']), samples: parseExposition(text), text };
    },
    close: async () => undefined,
  };
}

/** A loopback listener serving /metrics (and the probes) for `ops`, as the admin listener does. */
export async function serveMetrics(ops: Operations): Promise<MetricsEndpoint> {
  const app: FastifyInstance = Fastify();
  registerOperationsRoutes(app, ops, { operator: true });
  const url = await app.listen({ host: '127.0.0.1', port: 0 });
  return {
    url,
    async scrape() {
      const res = await request(`${url}/metrics`);
      const text = await res.body.text();
      if (res.statusCode !== 200) throw new Error(`/metrics answered ${res.statusCode}: ${text}`);
      return { contentType: String(res.headers['content-type']), samples: parseExposition(text), text };
    },
    close: () => app.close(),
  };
}
