// The `watch` list and `quota` of an upstream (docs/watch.md): images kept fresh before anyone asks, on a schedule,
// within the upstream's pull quota.
import { Cron } from 'croner';
import { z } from 'zod';
import { parseDurationMs } from './duration.js';

/** A duration between `min` and `max` ms ("6h", "90s"). */
const span = (fallback: string | undefined, min: number, max: number) =>
  z
    .union([z.string(), z.number()])
    .optional()
    .transform((v, ctx) => {
      if (v === undefined && fallback === undefined) return undefined;
      const ms = parseDurationMs(v ?? (fallback as string));
      if (ms === undefined || ms < min || ms > max) {
        ctx.addIssue({ code: 'custom', message: `expected a duration from ${min / 1000}s to ${max / 86_400_000}d, e.g. "6h"` });
        return z.NEVER;
      }
      return ms;
    });

const cronExpression = z.string().refine((s) => {
  try {
    new Cron(s, { paused: true, timezone: 'UTC' }).stop();
    return true;
  } catch {
    return false;
  }
}, 'expected a cron expression such as "0 6 * * 1-5" (UTC)');

const repository = z.string().regex(/^[a-z0-9]+(?:(?:[._/-]|__|-+)[a-z0-9]+)*$/, 'expected a repository as on the upstream, e.g. library/node');
const tagPattern = z.string().regex(/^[A-Za-z0-9_*][A-Za-z0-9_.*-]{0,127}$/, 'expected a tag or a tag pattern with *');
const platform = z.string().regex(/^[a-z0-9]+\/[a-z0-9_]+(?:\/[a-z0-9]+)?$/, 'expected os/architecture[/variant]');

export const watchEntrySchema = z
  .strictObject({
    repository,
    /** Tags or tag patterns (`22*`, `v*`); default `latest`. */
    tags: z.array(tagPattern).min(1).default(['latest']),
    /** With patterns: only the newest N matching tags by version order. */
    newest: z.int().min(1).max(50).optional(),
    /**
     * With patterns: at most this many matching tags per run (the newest by version with `newest`, else the first in
     * the upstream's order); the rest are skipped and counted in the run's record.
     */
    maxTags: z.int().min(1).max(1000).default(50),
    /** Default: the platforms the fleet pulled of this tag, else every platform. */
    platforms: z.array(platform).default([]),
    /** Run every interval ("6h")... */
    every: span(undefined, 60_000, 30 * 86_400_000),
    /** ...or at the times of a cron expression (UTC). */
    cron: cronExpression.optional(),
    /** Each run starts up to this much later (the same offset for an entry every time), so mirrors spread out. */
    jitter: span('0s', 0, 86_400_000),
    /** The last K digests of each watched tag are kept from eviction. */
    keep: z.int().min(1).max(100).default(3),
  })
  .refine((e) => (e.every === undefined) !== (e.cron === undefined), { message: 'set every or cron (one of them)' });

export const quotaSchema = z.strictObject({
  /** Pulls of the upstream's quota kept for live clients: background work stops below it. */
  reserve: z.int().min(0).max(1_000_000).default(20),
});

export type WatchEntryConfig = z.output<typeof watchEntrySchema>;
export type QuotaConfig = z.output<typeof quotaSchema>;
