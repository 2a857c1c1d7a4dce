// Prefetch: pull images into the cache, with progress per image; cancel a running job, retry what did not finish.
import type { AdminContext } from '../admin-context.js';
import { AdminError } from '../admin-errors.js';
import { route, type AnyApiRoute } from '../api-kit.js';
import { prefetchJob, prefetchJobList, prefetchRequest } from '../api-schemas.js';

export function prefetchRoutes(ctx: AdminContext): AnyApiRoute[] {
  return [
    route({
      method: 'POST',
      url: '/api/prefetch',
      summary: 'Start pulling images into the cache (`alpine`, `gcr.io/distroless/base:nonroot`, `...@sha256:...`)',
      tag: 'prefetch',
      body: prefetchRequest,
      response: prefetchJob,
      status: 202,
      handler: ({ body }) => ctx.prefetcher.start(body.images, body.platforms),
    }),
    route({ method: 'GET', url: '/api/prefetch', summary: 'Recent prefetch jobs', tag: 'prefetch', response: prefetchJobList, handler: () => ({ jobs: ctx.prefetcher.list() }) }),
    route({
      method: 'GET',
      url: '/api/prefetch/:id',
      summary: 'One prefetch job with progress per image',
      tag: 'prefetch',
      response: prefetchJob,
      handler({ params }) {
        const job = ctx.prefetcher.get(String(params.id));
        if (!job) throw new AdminError('NOT_FOUND', `no prefetch job ${String(params.id)}`);
        return job;
      },
    }),
    route({
      method: 'POST',
      url: '/api/prefetch/:id/cancel',
      summary: 'Cancel a running prefetch job (the image being fetched stops; queued images are skipped)',
      tag: 'prefetch',
      response: prefetchJob,
      handler({ params }) {
        const job = ctx.prefetcher.cancel(String(params.id));
        if (!job) throw new AdminError('NOT_FOUND', `no prefetch job ${String(params.id)}`);
        return job;
      },
    }),
    route({
      method: 'POST',
      url: '/api/prefetch/:id/retry',
      summary: "Start a new job for a job's failed and cancelled images, on the same platforms",
      tag: 'prefetch',
      response: prefetchJob,
      status: 202,
      handler({ params }) {
        const id = String(params.id);
        if (!ctx.prefetcher.get(id)) throw new AdminError('NOT_FOUND', `no prefetch job ${id}`);
        const job = ctx.prefetcher.retry(id);
        if (!job) throw new AdminError('CONFLICT', `prefetch job ${id} has no failed or cancelled image to retry`);
        return job;
      },
    }),
  ];
}
