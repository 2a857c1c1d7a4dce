// Changes made through the admin with several workers (docs/workers.md): the admin lives in the lead worker and
// stores what it changes (upstreams, pins, passthrough routes) in the shared database; after each change the lead
// tells the supervisor, which tells every other worker to read that state again.
import type { FastifyInstance } from 'fastify';
import type { WorkerMessage } from './worker-context.js';

const reads = new Set(['GET', 'HEAD', 'OPTIONS']);

/** In the lead worker: every admin request that changed something (a write that succeeded) is announced. */
export function announceAdminChanges(admin: FastifyInstance): void {
  admin.addHook('onResponse', async (req, reply) => {
    if (reads.has(req.method) || reply.statusCode >= 400) return;
    const message: WorkerMessage = { type: 'pullgate:admin-changed' };
    process.send?.(message);
  });
}

/** In every other worker: `refresh` runs when the lead changed something. */
export function onAdminChanges(refresh: () => void): void {
  process.on('message', (m: unknown) => {
    if (typeof m === 'object' && m !== null && (m as { type?: unknown }).type === 'pullgate:refresh') refresh();
  });
}
