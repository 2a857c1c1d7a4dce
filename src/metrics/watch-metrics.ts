// Metrics of the watch lists and the quota governor (docs/watch.md): runs by result, watched tags that moved, and
// what the governor held back (read from the governor when scraped). The quota figures themselves are the
// pullgate_upstream_ratelimit_* gauges.
import { Counter, Gauge, type Registry } from 'prom-client';
import type { QuotaView } from '../watch/quota-governor.js';

export class WatchMetrics {
  private readonly runs: Counter<'upstream' | 'result'>;
  private readonly moved: Counter<'upstream'>;

  constructor(registry: Registry, quotas: () => QuotaView[]) {
    const registers = [registry];
    this.runs = new Counter({
      name: 'pullgate_watch_runs_total',
      help: 'Watch runs, by upstream and result (ok, failed, held: stopped by the quota governor).',
      labelNames: ['upstream', 'result'],
      registers,
    });
    this.moved = new Counter({
      name: 'pullgate_watch_tags_moved_total',
      help: 'Watched tags found pointing at a new image, by upstream.',
      labelNames: ['upstream'],
      registers,
    });
    // The governor's own counts, exported as gauges read at scrape time (they only grow while the process runs).
    new Gauge({
      name: 'pullgate_quota_held_back_total',
      help: 'What the quota governor held back, by upstream and kind: watch (runs or tags not started) and live (tag revalidations served stale).',
      labelNames: ['upstream', 'kind'],
      registers,
      collect() {
        this.reset();
        for (const q of quotas()) {
          this.set({ upstream: q.upstream, kind: 'watch' }, q.heldBack.watch);
          this.set({ upstream: q.upstream, kind: 'live' }, q.heldBack.live);
        }
      },
    });
    new Gauge({
      name: 'pullgate_quota_reserve',
      help: 'Pulls of the upstream quota kept for live clients (upstreams[].quota.reserve).',
      labelNames: ['upstream'],
      registers,
      collect() {
        this.reset();
        for (const q of quotas()) this.set({ upstream: q.upstream }, q.reserve);
      },
    });
  }

  run(upstream: string, result: string): void {
    this.runs.inc({ upstream, result });
  }

  tagMoved(upstream: string): void {
    this.moved.inc({ upstream });
  }
}
