// The cache: totals and traffic, browse upstream -> repositories -> images -> one image's parts, purge, pins,
// eviction. An upstream that is neither configured nor in the cache is NOT_FOUND, and so is a pin naming one.
import { statfs } from 'node:fs/promises';
import { parseDigest } from '../../registry/digest.js';
import type { PurgeTarget } from '../../cache/ports.js';
import type { AdminContext } from '../admin-context.js';
import { signatureOf, withSignatures } from '../signature-view.js';
import { AdminError } from '../admin-errors.js';
import { route, type AnyApiRoute } from '../api-kit.js';
import {
  cacheSummary,
  evictResult,
  imageDetail,
  imageList,
  imageQuery,
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

/** The data directory's file system: total, used and free bytes (free as an unprivileged writer sees it). */
async function diskOf(ctx: AdminContext): Promise<{ total: number; used: number; free: number } | null> {
  if (ctx.config.cache.storage.type !== 'disk') return null;
  try {
    const fs = await statfs(ctx.config.dataDir);
    const total = fs.blocks * fs.bsize;
    return { total, used: total - fs.bfree * fs.bsize, free: fs.bavail * fs.bsize };
  } catch {
    return null;
  }
}

/** The upstreams configured now (config file and admin). */
const configured = (ctx: AdminContext): Set<string> => new Set(ctx.sources.list().map((s) => s.config.name));

/** Refuses an upstream that is neither configured nor in the cache: a typo, not an empty list. */
function knownUpstream(ctx: AdminContext, name: string): void {
  if (configured(ctx).has(name) || ctx.browser.upstreamCounts().has(name)) return;
  throw new AdminError('NOT_FOUND', `no upstream named ${name}`);
}

export function cacheRoutes(ctx: AdminContext): AnyApiRoute[] {
  return [...browseRoutes(ctx), ...pinRoutes(ctx), ...maintenanceRoutes(ctx)];
}

/** The cache's totals and traffic, overall and per upstream (configured or still in the cache). */
async function summaryOf(ctx: AdminContext) {
  await ctx.cache.catalog.refresh();
  const totals = ctx.cache.index.totals();
  const traffic = ctx.traffic.totals();
  const counts = ctx.browser.upstreamCounts();
  const live = configured(ctx);
  const sizes = ctx.browser.upstreamSizes();
  const names = new Set([...live, ...counts.keys(), ...traffic.byUpstream.keys()]);
  const empty = { bytesServed: 0, bytesFetched: 0, bytesSaved: 0, bytesPrefetched: 0, hits: 0, misses: 0, hitRatio: null };
  return {
    size: totals.blobBytes + totals.manifestBytes,
    maxSize: ctx.cache.policy.maxBytes,
    blobs: totals.blobs,
    manifests: totals.manifests,
    tags: totals.tags,
    traffic: traffic.overall,
    disk: await diskOf(ctx),
    upstreams: [...names].sort().map((name) => ({
      name,
      configured: live.has(name),
      repositories: counts.get(name)?.repositories ?? 0,
      tags: counts.get(name)?.tags ?? 0,
      size: sizes.get(name) ?? 0,
      traffic: traffic.byUpstream.get(name) ?? empty,
    })),
  };
}

/** Totals and traffic; upstream -> repositories -> images -> one image. */
function browseRoutes(ctx: AdminContext): AnyApiRoute[] {
  return [
    route({
      method: 'GET',
      url: '/api/cache/summary',
      summary: 'Cache totals, hit ratio and bandwidth saved, overall and per upstream',
      tag: 'cache',
      response: cacheSummary,
      handler: () => summaryOf(ctx),
    }),
    route({
      method: 'GET',
      url: '/api/cache/traffic',
      summary: 'Bytes served and fetched per minute (last hour), per 5 minutes (up to a day) or per hour',
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
        knownUpstream(ctx, query.upstream);
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
        knownUpstream(ctx, query.upstream);
        return { images: withSignatures(ctx.verdicts, query.upstream, ctx.browser.images(query.upstream, query.repository)) };
      },
    }),
    route({
      method: 'GET',
      url: '/api/cache/image',
      summary: 'One cached image: tags, platforms, pulls, and each stored part (manifests, config, layers) with its size',
      tag: 'cache',
      query: imageQuery,
      response: imageDetail,
      handler: async ({ query }) => {
        await ctx.cache.catalog.refresh();
        ctx.cache.index.flush();
        knownUpstream(ctx, query.upstream);
        const found = ctx.browser.parts(query.upstream, query.repository, query.digest);
        if (!found) throw new AdminError('NOT_FOUND', `no image ${query.digest} cached in ${query.upstream}/${query.repository}`);
        const source = ctx.sources.list().find((s) => s.config.name === query.upstream);
        const signature = signatureOf(ctx.verdicts, query.upstream, found.image.digest);
        return { ...found.image, ...(signature ? { signature } : {}), upstream: query.upstream, repository: query.repository, registry: source?.config.registry ?? query.upstream, parts: found.parts };
      },
    }),
  ];
}

/** Pins: never evicted. */
function pinRoutes(ctx: AdminContext): AnyApiRoute[] {
  const pins = () => ({ pins: ctx.pins.list() });
  return [
    route({ method: 'GET', url: '/api/cache/pins', summary: 'Pins (config file and admin)', tag: 'cache', response: pinList, handler: pins }),
    route({
      method: 'POST',
      url: '/api/cache/pins',
      summary: 'Pin `upstream/repository[:tag]` (wildcards `*`): never evicted',
      tag: 'cache',
      body: pinRequest,
      response: pinList,
      handler({ body }) {
        // The upstream part of a pin without a wildcard must name an upstream: a typo would protect nothing.
        const upstream = body.pin.split('/')[0] ?? '';
        if (!upstream.includes('*') && !configured(ctx).has(upstream) && !ctx.browser.upstreamCounts().has(upstream)) {
          throw new AdminError('VALIDATION', `pin: no upstream named ${upstream}`, { fields: [{ path: 'pin', message: `no upstream named ${upstream}` }] });
        }
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
  ];
}

/** Purge and eviction on demand. */
function maintenanceRoutes(ctx: AdminContext): AnyApiRoute[] {
  return [
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
