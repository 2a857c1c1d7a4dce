// The figures step: traffic counters (stored, for the admin), the Prometheus metrics, the admin's live activity
// feed, and eviction as the server runs it (counted, and logged when it fails).
import { Activity } from '../server/activity.js';
import { Traffic } from '../metrics/traffic.js';
import { Metrics } from '../metrics/metrics.js';
import { gatherMachineActivity, reportActivityToLead } from '../workers/machine-activity.js';
import { shareWorkerMetrics } from '../workers/machine-metrics.js';
import type { Base } from './base.js';
import type { CacheWiring } from './cache.js';

export interface Figures {
  traffic: Traffic;
  metrics: Metrics;
  activity: Activity;
  /** Evicts if the cache is over its cap, in the background; after a fill's commit and a config reload. */
  runEviction(): void;
}

export function wireFigures(base: Base, parts: { cache: CacheWiring }): Figures {
  const { local, fills } = parts.cache;
  const traffic = new Traffic(local.db, base.clock);
  const metrics = new Metrics({
    totals: () => local.index.totals(),
    fillsInFlight: () => fills.size,
    fetched: (upstream, bytes) => traffic.fetched(upstream, bytes),
  });
  // With several workers, the admin's /metrics sums every worker's (docs/workers.md).
  if (base.worker) metrics.exposition = shareWorkerMetrics(metrics.registry);
  const runEviction = () =>
    void local
      .evict()
      .then((r) => r && metrics.evicted(r))
      .catch((err: unknown) => base.log.error({ err }, 'eviction failed'));
  const activity = new Activity(fills, traffic, base.clock);
  // With several workers, the admin's activity feed (in the lead) shows every worker's (docs/workers.md).
  if (base.worker && base.lead) gatherMachineActivity(activity);
  else if (base.worker) reportActivityToLead(activity);
  return { traffic, metrics, activity, runEviction };
}
