// Operations endpoints: `/healthz` (the process answers), `/readyz` (it can serve: see readiness.ts) and, on the
// listener that asks for it, `/metrics`. The registry listeners register the first two; only the admin listener
// serves `/metrics`. These are plain routes next to `/v2/`, never routed to an upstream.
import type { FastifyInstance } from 'fastify';
import type { Metrics } from '../metrics/metrics.js';
import { statesOnly, type ReadinessReport } from './readiness.js';

export interface Operations {
  readonly metrics: Metrics;
  ready(): Promise<ReadinessReport>;
}

export interface OperationsRoutesOptions {
  /**
   * Serve `/metrics` and the reasons of failing readiness checks here (the admin listener); the registry listeners
   * answer `/readyz` with each check's state only, as a reason can name local paths (docs/security.md).
   */
  operator: boolean;
}

export function registerOperationsRoutes(app: FastifyInstance, ops: Operations, options: OperationsRoutesOptions): void {
  // Probes must never be cached by a proxy in front of the mirror. They answer without a login on the admin
  // listener too (`public`: see src/admin/route-guard.ts).
  const open = { config: { public: true } };
  app.get('/healthz', open, async (_req, reply) => reply.header('cache-control', 'no-store').send({ status: 'ok' }));
  app.get('/readyz', open, async (_req, reply) => {
    const report = options.operator ? await ops.ready() : statesOnly(await ops.ready());
    return reply
      .code(report.ready ? 200 : 503)
      .header('cache-control', 'no-store')
      .send({ status: report.ready ? 'ready' : 'not ready', checks: report.checks });
  });
  if (options.operator) {
    app.get('/metrics', open, async (_req, reply) => {
      const { contentType, body } = await ops.metrics.exposition();
      return reply.header('content-type', contentType).header('cache-control', 'no-store').send(body);
    });
  }
}
