// Changes made through the admin with several workers (docs/workers.md): the admin lives in the lead worker and
// stores what it changes (upstreams, pins, passthrough routes) in the shared database; after each change the lead
// tells the supervisor, which tells every other worker to read that state again, and the admin answers once every
// worker has: the next registry request uses the change whichever worker it lands on, as with one process.
import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import type { SupervisorMessage, WorkerMessage } from './worker-context.js';

const reads = new Set(['GET', 'HEAD', 'OPTIONS']);
/** How long the admin waits for the other workers before it answers anyway (a worker starting reads the state itself). */
const appliedWithinMs = 5_000;

/** In the lead worker: every admin request that changed something (a write that succeeds) is applied everywhere before it is answered. */
export function announceAdminChanges(admin: FastifyInstance, log: Logger): void {
  let next = 0;
  const pending = new Map<number, () => void>();
  process.on('message', (m: unknown) => {
    if (isMessage(m, 'pullgate:applied')) pending.get(m.id)?.();
  });
  admin.addHook('onSend', async (req, reply, payload) => {
    if (reads.has(req.method) || reply.statusCode >= 400) return payload;
    const id = next++;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        log.warn({ method: req.method, url: req.url }, 'not every worker confirmed the admin change in time; answering anyway');
        done();
      }, appliedWithinMs);
      const done = (): void => {
        clearTimeout(timer);
        pending.delete(id);
        resolve();
      };
      pending.set(id, done);
      const message: WorkerMessage = { type: 'pullgate:admin-changed', id };
      if (process.send) process.send(message);
      else done();
    });
    return payload;
  });
}

/** In every other worker: `refresh` runs when the lead changed something, and the supervisor is told it did. */
export function onAdminChanges(refresh: () => void): void {
  process.on('message', (m: unknown) => {
    if (!isMessage(m, 'pullgate:refresh')) return;
    refresh();
    const message: WorkerMessage = { type: 'pullgate:refreshed', id: m.id };
    process.send?.(message);
  });
}

function isMessage<T extends 'pullgate:refresh' | 'pullgate:applied'>(m: unknown, type: T): m is Extract<SupervisorMessage, { type: T }> {
  return typeof m === 'object' && m !== null && (m as { type?: unknown }).type === type && typeof (m as { id?: unknown }).id === 'number';
}
