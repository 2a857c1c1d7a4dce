// Pruning of the cache index's bookkeeping that nothing else removes (docs/signatures.md, docs/watch.md): signature
// verdicts of digests no longer cached or under a policy version no longer in force, and watch state of entries
// gone or history beyond its bound. Runs on a timer (and on demand); each pass is a few indexed DELETEs.
import type { Logger } from 'pino';
import type { SignatureVerdicts } from './signature-verdicts.js';
import { historyPerTag, type WatchState } from './watch-state.js';

/** How often the index is pruned. */
export const housekeepingEveryMs = 10 * 60_000;
/** A verdict younger than this stays even when its digest is not cached (its manifest row may be on its way). */
export const verdictGraceMs = 60 * 60_000;

export interface HousekeepingParts {
  verdicts: SignatureVerdicts;
  watch: WatchState;
  /** The verdict keys of every requirement in force now (SignatureGate.verdictKeys). */
  policyKeys: () => ReadonlySet<string>;
  /** The ids of every watch entry now (config file and admin). */
  watchEntries: () => readonly string[];
  clock: () => number;
  log: Logger;
}

export class IndexHousekeeping {
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly p: HousekeepingParts) {}

  /** One pass; what it removed (also logged when anything was). */
  run(): { verdicts: number; watchRuns: number; watchTags: number; watchHistory: number } {
    const v = this.p.verdicts.prune(this.p.policyKeys(), this.p.clock() - verdictGraceMs);
    const w = this.p.watch.prune(this.p.watchEntries(), historyPerTag);
    const removed = { verdicts: v.uncached + v.otherPolicies, watchRuns: w.runs, watchTags: w.tags, watchHistory: w.history };
    if (Object.values(removed).some((n) => n > 0)) this.p.log.info(removed, 'pruned the cache index');
    return removed;
  }

  start(everyMs = housekeepingEveryMs): void {
    this.timer = setInterval(() => {
      try {
        this.run();
      } catch (err) {
        this.p.log.warn({ err }, 'pruning the cache index failed');
      }
    }, everyMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
  }
}
