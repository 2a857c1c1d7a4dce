// The admin API's shapes for watch lists (api-schemas.ts has the rest; the same rules apply: routes validate with them,
// the OpenAPI document is generated from them, the web UI imports their types).
import { z } from 'zod';

/** The entry as the config file's `upstreams[].watch` takes it (src/config/watch.ts checks it), plus its upstream. */
export const watchEntryCreate = z.looseObject({ upstream: z.string().min(1).max(64) });
export const watchedTagView = z.object({
  tag: z.string(),
  digest: z.string().nullable(),
  changedAt: z.number().nullable(),
  checkedAt: z.number(),
  bytesFetched: z.number(),
  error: z.string().nullable(),
});
export const watchRunView = z.object({
  startedAt: z.number(),
  finishedAt: z.number().nullable(),
  result: z.enum(['running', 'ok', 'failed', 'held']),
  changed: z.number(),
  bytes: z.number(),
  /** Tags matching the entry's patterns that the run left out (its maxTags cap). */
  skipped: z.number(),
  message: z.string().nullable(),
});
export const watchEntryView = z.object({
  id: z.string(),
  upstream: z.string(),
  repository: z.string(),
  tags: z.array(z.string()),
  newest: z.number().optional(),
  maxTags: z.number(),
  platforms: z.array(z.string()),
  everyMs: z.number().optional(),
  cron: z.string().optional(),
  jitterMs: z.number(),
  keep: z.number(),
  source: z.enum(['config', 'admin']),
  running: z.boolean(),
  nextRun: z.number(),
  lastRun: watchRunView.nullable(),
  tagStates: z.array(watchedTagView),
});
export type WatchEntryView = z.infer<typeof watchEntryView>;
export const watchQuotaView = z.object({
  upstream: z.string(),
  limit: z.number().optional(),
  remaining: z.number().optional(),
  windowSeconds: z.number().optional(),
  pausedUntil: z.number().optional(),
  reserve: z.number(),
  heldBack: z.object({ watch: z.number(), live: z.number() }),
});
export const watchList = z.object({ entries: z.array(watchEntryView), quotas: z.array(watchQuotaView) });
export const watchRunResult = z.object({ result: z.enum(['ok', 'failed', 'held']), changed: z.number(), bytes: z.number(), skipped: z.number().optional(), message: z.string().optional(), entry: watchEntryView });
