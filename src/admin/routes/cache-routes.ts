// The cache: totals and traffic, browse upstream -> repositories -> images, purge, pins, eviction.
import { parseDigest } from '../../registry/digest.js';
import type { PurgeTarget } from '../../cache/ports.js';
import type { AdminContext } from '../admin-context.js';
import { route, type AnyApiRoute } from '../api-kit.js';
import {
  cacheSummary,
  evictResult,
  imageList,
  imagesQuery,
  pinList,
  pinRequest,
  purgeRequest,
  purgeResult,
  repositoriesQuery,
  repositoryList,
  trafficQuery,
  trafficSeries,
} from '../api-schemas.js';

export function cacheRoutes(ctx: AdminContext): AnyApiRoute[] {
  const pins = () => ({ pins: ctx.pins.list() });
  return [
    route({
      method: 'GET',
      url: '/api/cache/summary',
      summary: 'Cache totals, hit ratio and bandwidth saved, overall and per upstream',
      tag: 'cache',
      response: cacheSummary,
      async handler() {
        await ctx.cache.catalog.refresh();
        const totals = ctx.cache.index.totals();
        const traffic = ctx.traffic.totals();
        const counts = ctx.browser.upstreamCounts();
        const names = new Set([...ctx.sources.list().map((s) => s.config.name), ...counts.keys(), ...traffic.byUpstream.keys()]);
        const empty = { bytesServed: 0, bytesFetched: 0, bytesSaved: 0, hits: 0, misses: 0, hitRatio: null };
        return {
          size: totals.blobBytes + totals.manifestBytes,
          maxSize: ctx.cache.policy.maxBytes,
          blobs: totals.blobs,
          manifests: totals.manifests,
          tags: totals.tags,
          traffic: traffic.overall,
          upstreams: [...names].sort().map((name) => ({
            name,
            repositories: counts.get(name)?.repositories ?? 0,
            tags: counts.get(name)?.tags ?? 0,
            traffic: traffic.byUpstream.get(name) ?? empty,
          })),
        };
      },
    }),
    route({
      method: 'GET',
      url: '/api/cache/traffic',
      summary: 'Bytes served and fetched per hour',
      tag: 'cache',
      query: trafficQuery,
      response: trafficSeries,
      handler: ({ query }) => ctx.traffic.series(query.hours),
    }),
    route({
      method: 'GET',
      url: '/api/cache/repositories',
      summary: "An upstream's cached repositories",
      tag: 'cache',
      query: repositoriesQuery,
      response: repositoryList,
      handler: async ({ query }) => {
        await ctx.cache.catalog.refresh();
        ctx.cache.index.flush();
        return { repositories: ctx.browser.repositories(query.upstream) };
      },
    }),
    route({
      method: 'GET',
      url: '/api/cache/images',
      summary: "A repository's cached images with tags, size, last pull and pull count",
      tag: 'cache',
      query: imagesQuery,
      response: imageList,
      handler: async ({ query }) => {
        await ctx.cache.catalog.refresh();
        ctx.cache.index.flush();
        return { images: ctx.browser.images(query.upstream, query.repository) };
      },
    }),
    route({
      method: 'POST',
      url: '/api/cache/purge',
      summary: "Purge an image (by digest or tag), a repository or an upstream's content",
      tag: 'cache',
      body: purgeRequest,
      response: purgeResult,
      async handler({ body }) {
        const target: PurgeTarget =
          'digest' in body
            ? { digest: parseDigest(body.digest) }
            : body.repository && body.tag
              ? { upstream: body.upstream, repository: body.repository, tag: body.tag }
              : body.repository
                ? { upstream: body.upstream, repository: body.repository }
                : { upstream: body.upstream };
        // With shared storage: on a fresh import, and the bucket's manifests and tags go too (a no-op on disk).
        const counts = await ctx.cache.catalog.removing(async () => {
          const { removedBlobs, ...counts } = ctx.cache.index.purge(target);
          await Promise.all(removedBlobs.map((d) => ctx.cache.store.remove(d)));
          return counts;
        });
        ctx.log.info({ target, ...counts }, 'cache purged from the admin');
        return counts;
      },
    }),
    route({ method: 'GET', url: '/api/cache/pins', summary: 'Pins (config file and admin)', tag: 'cache', response: pinList, handler: pins }),
    route({
      method: 'POST',
      url: '/api/cache/pins',
      summary: 'Pin `upstream/repository[:tag]` (wildcards `*`): never evicted',
      tag: 'cache',
      body: pinRequest,
      response: pinList,
      handler({ body }) {
        ctx.pins.add(body.pin);
        return pins();
      },
    }),
    route({
      method: 'DELETE',
      url: '/api/cache/pins',
      summary: 'Unpin',
      tag: 'cache',
      body: pinRequest,
      response: pinList,
      handler({ body }) {
        ctx.pins.remove(body.pin);
        return pins();
      },
    }),
    route({
      method: 'POST',
      url: '/api/cache/evict',
      summary: 'Run eviction now (down to the low-water mark when over the size cap)',
      tag: 'cache',
      response: evictResult,
      async handler() {
        const r = await ctx.cache.evict();
        return r ? { ran: true, removedImages: r.victims, removedBlobs: r.blobs, bytes: r.bytes } : { ran: false, removedImages: 0, removedBlobs: 0, bytes: 0 };
      },
    }),
  ];
}
