// The cluster's view (docs/storage.md, "The shared catalog"): the replicas sharing this cache's bucket, seen through
// their heartbeats, with their figures and the sum. With disk storage there is no cluster: `shared: false` and no
// replica.
import { z } from 'zod';
import type { AdminContext } from '../admin-context.js';
import { route, type AnyApiRoute } from '../api-kit.js';

const figures = {
  bytesServed: z.number(),
  bytesFetched: z.number(),
  hits: z.number(),
  misses: z.number(),
  fillsInFlight: z.number(),
};

export const clusterView = z.object({
  /** true with `cache.storage: s3`: the cache is shared through the bucket. */
  shared: z.boolean(),
  /** This replica's id (`<prefix>replicas/<id>` in the bucket). */
  self: z.string().nullable(),
  heartbeatMs: z.number().nullable(),
  replicas: z.array(
    z.object({ id: z.string(), address: z.string(), version: z.string(), startedAt: z.number(), lastSeenAt: z.number(), ...figures }),
  ),
  totals: z.object(figures),
});

export function clusterRoutes(ctx: AdminContext): AnyApiRoute[] {
  return [
    route({
      method: 'GET',
      url: '/api/cluster',
      summary: 'Replicas sharing the cache (heartbeats within three periods), their figures and the sum',
      tag: 'cluster',
      response: clusterView,
      async handler() {
        const view = await ctx.cluster();
        const zero = { bytesServed: 0, bytesFetched: 0, hits: 0, misses: 0, fillsInFlight: 0 };
        if (!view) return { shared: false, self: null, heartbeatMs: null, replicas: [], totals: zero };
        return {
          shared: true,
          self: view.self,
          heartbeatMs: view.periodMs,
          replicas: view.replicas.map(({ at, ...h }) => ({ ...h, lastSeenAt: at })),
          totals: view.totals,
        };
      },
    }),
  ];
}
