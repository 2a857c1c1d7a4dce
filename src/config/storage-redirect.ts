// `cache.storage.redirect` (S3 only, docs/storage.md, "Redirecting blob downloads to the bucket"): blob GETs that hit
// the bucket are answered with 307 to a presigned URL, so clients download from the object store (or its CDN) instead
// of through a replica, as distribution's storage redirect does. A presigned URL lives `redirectTtl`; SigV4 allows at
// most 7 days.
import { z } from 'zod';
import { formatDuration, parseDurationMs } from './duration.js';

export const redirectTtlBounds = { minMs: 60_000, maxMs: 7 * 86_400_000, fallback: '20m' };

const ttl = z
  .union([z.string(), z.number()])
  .default(redirectTtlBounds.fallback)
  .transform((v, ctx) => {
    const ms = parseDurationMs(v);
    const { minMs, maxMs } = redirectTtlBounds;
    if (ms === undefined || ms < minMs || ms > maxMs || ms % 1000 !== 0) {
      ctx.addIssue({
        code: 'custom',
        message: `a duration in whole seconds from ${formatDuration(minMs)} to ${formatDuration(maxMs)} (a presigned URL's lifetime), e.g. "20m", got ${String(v)}`,
      });
      return z.NEVER;
    }
    return ms;
  });

/** An origin only: the URL is signed for this host, and the bucket and key are added to it. */
const origin = z.url({ protocol: /^https?$/ }).refine((text) => {
  // Refinements run after a failed format check too; that value is already refused.
  if (!URL.canParse(text)) return true;
  const u = new URL(text);
  return u.pathname === '/' && u.search === '' && u.hash === '' && u.username === '' && u.password === '';
}, 'an origin such as "https://s3.example.com" (no path, query or credentials)');

/** Spread into the S3 storage schema. */
export const redirectFields = {
  /** Blob GETs that hit the bucket answer 307 to a presigned URL; HEAD, misses and manifests never do. */
  redirect: z.boolean().default(false),
  /** How long a presigned URL stays valid: long enough for the download to start. */
  redirectTtl: ttl,
  /** Where clients reach the object store when it is not where the replicas do (a public name, a CDN). */
  redirectEndpoint: origin.optional(),
};
