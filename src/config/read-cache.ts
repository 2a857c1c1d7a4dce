// `cache.storage.readCache` (docs/storage.md, "The read cache"): a size-capped copy, on the replica's own disk, of
// blobs read from the bucket, so that a hot blob is served without an object store request. Only meaningful in front of
// a bucket.
import { z } from 'zod';
import { parseSizeBytes } from './size.js';

// Below this a cap would hold hardly a layer: most likely a unit forgotten ("20" meaning 20 GiB).
const minBytes = 1024 * 1024;

export const readCacheSchema = z.strictObject({
  /** Least recently used local copies go once their total passes this, down to `cache.lowWater` of it. */
  maxSize: z.union([z.string(), z.number()]).transform((v, ctx) => {
    const value = parseSizeBytes(v);
    if (value === undefined || value < minBytes) {
      ctx.addIssue({ code: 'custom', message: `expected a size of at least 1MiB, e.g. "20GiB", got ${String(v)}` });
      return z.NEVER;
    }
    return value;
  }),
});

export type ReadCacheConfig = z.output<typeof readCacheSchema>;
