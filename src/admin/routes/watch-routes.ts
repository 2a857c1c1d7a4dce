// Watch lists (docs/watch.md): every entry (the config file's, read-only here, and the admin's) with its schedule,
// last run and per-tag state; the quota governor's view of each upstream; add and remove admin entries; run an
// entry now.
import type { AdminContext } from '../admin-context.js';
import { AdminError } from '../admin-errors.js';
import { route, type AnyApiRoute } from '../api-kit.js';
import { watchEntryCreate, watchEntryView, watchList, watchRunResult, type WatchEntryView } from '../watch-schemas.js';

/** Every entry (config file and admin) with its schedule, last run and per-tag state. */
function entryViews(ctx: AdminContext): WatchEntryView[] {
  ctx.watch.scheduler.refresh();
  const scheduled = new Map(ctx.watch.scheduler.list().map((v) => [v.entry.id, v]));
  return ctx.watch.entries().map((e) => {
    const s = scheduled.get(e.id);
    const last = ctx.watch.state.runs(e.id, 1)[0];
    const c = e.config;
    return {
      id: e.id,
      upstream: e.upstream,
      repository: c.repository,
      tags: c.tags,
      ...(c.newest !== undefined ? { newest: c.newest } : {}),
      maxTags: c.maxTags,
      platforms: c.platforms,
      ...(c.every !== undefined ? { everyMs: c.every } : {}),
      ...(c.cron !== undefined ? { cron: c.cron } : {}),
      jitterMs: c.jitter ?? 0,
      keep: c.keep,
      source: e.source,
      running: s?.running ?? false,
      nextRun: s?.nextRun ?? 0,
      lastRun: last ? { startedAt: last.startedAt, finishedAt: last.finishedAt, result: last.result, changed: last.changed, bytes: last.bytes, skipped: last.skipped, message: last.message } : null,
      tagStates: ctx.watch.state.tags(e.id).map((t) => ({ tag: t.tag, digest: t.digest, changedAt: t.changedAt, checkedAt: t.checkedAt, bytesFetched: t.bytesFetched, error: t.error })),
    };
  });
}

function entryView(ctx: AdminContext, id: string): WatchEntryView {
  const v = entryViews(ctx).find((e) => e.id === id);
  if (!v) throw new AdminError('NOT_FOUND', `no watch entry ${id}`);
  return v;
}

/** The quota governor's view of each upstream. */
function quotaViews(ctx: AdminContext) {
  return ctx.upstreams.router().upstreams.map((u) => {
    const q = ctx.watch.governor.view(u.name);
    return {
      upstream: q.upstream,
      ...(q.limit !== undefined ? { limit: q.limit } : {}),
      ...(q.remaining !== undefined ? { remaining: q.remaining } : {}),
      ...(q.windowSeconds !== undefined ? { windowSeconds: q.windowSeconds } : {}),
      ...(q.pausedUntil !== undefined ? { pausedUntil: q.pausedUntil } : {}),
      reserve: q.reserve,
      heldBack: q.heldBack,
    };
  });
}

export function watchRoutes(ctx: AdminContext): AnyApiRoute[] {
  const viewOf = (id: string): WatchEntryView => entryView(ctx, id);
  return [
    route({
      method: 'GET',
      url: '/api/watch',
      summary: 'Watch entries (config file and admin) with next run, last run and per-tag state; quota per upstream',
      tag: 'watch',
      response: watchList,
      handler: () => ({ entries: entryViews(ctx), quotas: quotaViews(ctx) }),
    }),
    route({
      method: 'POST',
      url: '/api/watch',
      summary: 'Watch an image: `upstream` plus an entry as in the config file (repository, tags, newest, platforms, every or cron, jitter, keep)',
      tag: 'watch',
      body: watchEntryCreate,
      response: watchEntryView,
      status: 201,
      handler({ body }) {
        const { upstream, ...entry } = body;
        const added = ctx.watchEntries.add(upstream, entry);
        return viewOf(added.id);
      },
    }),
    route({
      method: 'DELETE',
      url: '/api/watch/:id',
      summary: 'Stop watching (an entry added through the admin); what it fetched stays cached',
      tag: 'watch',
      handler({ params }) {
        ctx.watchEntries.remove(String(params.id));
        ctx.watch.scheduler.refresh();
      },
    }),
    route({
      method: 'POST',
      url: '/api/watch/:id/run',
      summary: 'Run a watch entry now, outside its schedule; answers when the run is over',
      tag: 'watch',
      response: watchRunResult,
      async handler({ params }) {
        const id = String(params.id);
        // One run of an entry at a time: a second would HEAD the same tags and fetch nothing new.
        if (viewOf(id).running) throw new AdminError('CONFLICT', `${id} is running now; its result shows when it ends`);
        const result = await ctx.watch.scheduler.runNow(id);
        return { ...result, entry: viewOf(id) };
      },
    }),
  ];
}
