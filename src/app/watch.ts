// The background pulls step: watch lists (docs/watch.md), whose entries are the config file's and the admin's,
// both read by the scheduler at every tick, with their metrics and webhook; and the admin's prefetch jobs.
import { AdminWatchEntries } from '../admin/admin-watch-entries.js';
import { IndexHousekeeping } from '../cache/index-housekeeping.js';
import { Prefetcher } from '../mirror/prefetch.js';
import { WatchMetrics } from '../metrics/watch-metrics.js';
import type { Timer } from '../watch/watch-scheduler.js';
import { createWatch, entriesOf, type Watch } from '../watch/watch-service.js';
import { WatchWebhook } from '../watch/watch-webhook.js';
import type { Base } from './base.js';
import type { CacheWiring } from './cache.js';
import type { ClusterWiring } from './cluster.js';
import type { Figures } from './figures.js';
import type { MirrorWiring } from './mirror.js';
import type { Upstreams } from './upstreams.js';

export interface WatchWiring {
  watch: Watch;
  /** Watch entries added through the admin. */
  entries: AdminWatchEntries;
  prefetcher: Prefetcher;
  /** Prunes signature verdicts and watch history nothing reads again (runs on a timer once listening). */
  housekeeping: IndexHousekeeping;
}

export interface WatchParts {
  cache: CacheWiring;
  figures: Figures;
  cluster: ClusterWiring;
  upstreams: Upstreams;
  mirror: MirrorWiring;
  /** The scheduler's timer (tests drive it with their clock instead). */
  timer?: Timer | undefined;
}

export function wireWatch(base: Base, parts: WatchParts): WatchWiring {
  const { clock } = base;
  const { local } = parts.cache;
  const { activity, metrics, traffic } = parts.figures;
  const { router, quota } = parts.upstreams;
  const { services } = parts.mirror;
  const { cluster } = parts.cluster;
  const prefetcher = new Prefetcher(services, router, base.child('prefetch'), clock, (upstream, bytes) => traffic.prefetched(upstream, bytes));
  const entries = new AdminWatchEntries(
    local.db,
    () => entriesOf(router().upstreams.map((u) => u.config)),
    (name) => router().named(name) !== undefined,
    clock,
  );
  const watchMetrics = new WatchMetrics(metrics.registry, () => quota.all());
  const webhook = new WatchWebhook((name) => router().named(name)?.config.watchWebhook, base.child('watch'), clock);
  const watch = createWatch({
    db: local.db,
    services,
    router,
    clock,
    log: base.child('watch'),
    governor: quota,
    adminEntries: () => entries.list(),
    onEvent: (e) => {
      if (e.type === 'tag-moved') watchMetrics.tagMoved(e.upstream);
      activity.watchEvent(e);
      void webhook.deliver(e);
    },
    onRun: (entry, result) => watchMetrics.run(entry.upstream, result.result),
    ...(cluster ? { leases: cluster.leases } : {}),
    ...(parts.timer ? { timer: parts.timer } : {}),
  });
  // Eviction keeps the last images of every watched tag.
  local.policy.retained = () => watch.retained();
  const housekeeping = new IndexHousekeeping({
    verdicts: parts.mirror.verdicts,
    watch: watch.state,
    policyKeys: () => parts.mirror.signatureGate.verdictKeys(router().upstreams),
    watchEntries: () => watch.entries().map((e) => e.id),
    clock,
    log: base.child('cache'),
  });
  return { watch, entries, prefetcher, housekeeping };
}
