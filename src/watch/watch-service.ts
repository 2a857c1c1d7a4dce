// The watch lists' parts wired together (docs/watch.md): state in the cache index, the quota governor fed by the
// upstreams' rate-limit headers, the runner, and the scheduler with one run per entry per tick across replicas.
import { createHash } from 'node:crypto';
import type { CacheDatabase } from '../cache/db.js';
import type { Logger } from 'pino';
import { WatchState } from '../cache/watch-state.js';
import type { UpstreamConfig } from '../config/config.js';
import type { MirrorServices } from '../mirror/services.js';
import type { UpstreamRouter } from '../upstream/router.js';
import type { QuotaGovernor } from './quota-governor.js';
import { watchEntryId, WatchRunner, type RunResult, type WatchEntry, type WatchEvent } from './watch-runner.js';
import { realTimer, WatchScheduler, type Timer } from './watch-scheduler.js';

export interface WatchLeases {
  claim(name: string, about?: Record<string, string>): Promise<{ won: boolean }>;
}

export interface Watch {
  state: WatchState;
  governor: QuotaGovernor;
  scheduler: WatchScheduler;
  /** Every entry the scheduler runs: the config file's, then the admin's. */
  entries(): Array<WatchEntry & { source: 'config' | 'admin' }>;
  /** Image digests eviction keeps: the last K of every watched tag. */
  retained(): Set<string>;
  close(): void;
}

export function entriesOf(upstreams: readonly UpstreamConfig[]): WatchEntry[] {
  return upstreams.flatMap((u) => (u.watch ?? []).map((config) => ({ id: watchEntryId(u.name, config), upstream: u.name, config })));
}

export function createWatch(o: {
  db: CacheDatabase;
  services: MirrorServices;
  router: () => UpstreamRouter;
  clock: () => number;
  log: Logger;
  governor: QuotaGovernor;
  leases?: WatchLeases;
  timer?: Timer;
  onEvent?: (e: WatchEvent) => void;
  onRun?: (entry: WatchEntry, result: RunResult) => void;
  /** Entries added through the admin (admin/admin-watch-entries.ts), read at every tick. */
  adminEntries?: () => readonly WatchEntry[];
}): Watch {
  const state = new WatchState(o.db);
  const { governor } = o;
  const upstreams = (): UpstreamConfig[] => o.router().upstreams.map((u) => u.config);
  const runner = new WatchRunner(o.services, o.router, state, governor, o.log, o.clock, o.onEvent, o.onRun);
  const { leases } = o;
  // The tick's lease is never released: it expires, so a replica that reaches the tick later finds it taken.
  const claim = leases
    ? async (id: string, tick: number) => (await leases.claim(`watch-${createHash('sha256').update(id).digest('hex').slice(0, 32)}-${tick}`, { entry: id })).won
    : undefined;
  const entries = (): Array<WatchEntry & { source: 'config' | 'admin' }> => {
    const fromConfig = entriesOf(upstreams()).map((e) => ({ ...e, source: 'config' as const }));
    const known = new Set(fromConfig.map((e) => e.id));
    const live = new Set(upstreams().map((u) => u.name));
    // An admin entry of an upstream that is gone waits (it is kept) until the upstream is back.
    const fromAdmin = (o.adminEntries?.() ?? []).filter((e) => !known.has(e.id) && live.has(e.upstream)).map((e) => ({ ...e, source: 'admin' as const }));
    return [...fromConfig, ...fromAdmin];
  };
  const scheduler = new WatchScheduler(entries, runner, o.clock, o.log, o.timer ?? realTimer, claim);
  return {
    state,
    governor,
    scheduler,
    entries,
    retained() {
      // Per tag an entry follows now (its last run's selection): a tag no longer watched keeps nothing.
      const keep = new Map<string, number>();
      for (const e of entries()) {
        for (const t of state.tags(e.id)) {
          const key = `${e.upstream}\n${e.config.repository}\n${t.tag}`;
          keep.set(key, Math.max(keep.get(key) ?? 0, e.config.keep));
        }
      }
      return state.retainedDigests((upstream, repository, tag) => keep.get(`${upstream}\n${repository}\n${tag}`));
    },
    close: () => scheduler.close(),
  };
}
