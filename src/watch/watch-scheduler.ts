// Runs watch entries when they are due (docs/watch.md). The clock and the timer are injected, so schedules are
// tested without sleeping. One run per entry at a time; with several replicas on one bucket, a run happens on the
// replica that wins the entry's lease for that tick, and every replica sees the result in the shared catalog.
import type { Logger } from 'pino';
import { nextRun } from './schedule.js';
import type { RunResult, WatchEntry, WatchRunner } from './watch-runner.js';

/** Claims one tick of one entry across replicas; true when this replica should run it. */
export type TickClaim = (entryId: string, tick: number) => Promise<boolean>;

export interface Timer {
  set(ms: number, fn: () => void): unknown;
  clear(handle: unknown): void;
}

export const realTimer: Timer = {
  set: (ms, fn) => {
    const t = setTimeout(fn, Math.min(ms, 2 ** 31 - 1));
    t.unref();
    return t;
  },
  clear: (h) => clearTimeout(h as NodeJS.Timeout),
};

/** The longest the scheduler sleeps before it reads the entries again. */
const refreshMs = 60_000;

export interface EntryView {
  entry: WatchEntry;
  nextRun: number;
  running: boolean;
  lastResult?: RunResult & { at: number };
}

export class WatchScheduler {
  private entries = new Map<string, EntryView>();
  /** The run in progress of each entry: a tick or "run now" meanwhile joins it. */
  private readonly inflight = new Map<string, Promise<RunResult>>();
  private timer: unknown;
  private readonly aborts = new AbortController();
  private closed = false;

  constructor(
    /** The current entries, read at every tick: admin changes and reloads take effect within a minute. */
    private readonly source: () => readonly WatchEntry[],
    private readonly runner: WatchRunner,
    private readonly clock: () => number,
    private readonly log: Logger,
    private readonly timer_: Timer = realTimer,
    private readonly claim: TickClaim = async () => true,
  ) {}

  /** Reads the entries and arms the timer. */
  start(): void {
    this.setEntries(this.source());
  }

  /**
   * Replaces the entries; an entry that stays keeps its view (a run in progress updates that very object), its
   * schedule unless its config changed, and its state. A next run further away than the schedule allows from now
   * means the clock was set back: the schedule is read again from the new clock.
   */
  private setEntries(entries: readonly WatchEntry[]): void {
    const now = this.clock();
    const next = new Map<string, EntryView>();
    for (const entry of entries) {
      const old = this.entries.get(entry.id);
      const fresh = nextRun(entry.id, entry.config, now);
      if (!old) {
        next.set(entry.id, { entry, nextRun: fresh, running: false });
        continue;
      }
      const same = JSON.stringify(old.entry.config) === JSON.stringify(entry.config);
      old.entry = entry;
      if (!same || old.nextRun > fresh) old.nextRun = fresh;
      next.set(entry.id, old);
    }
    this.entries = next;
    this.arm();
  }

  /** Reads the entries again now (after the admin added or removed one), instead of at the next tick. */
  refresh(): void {
    if (!this.closed) this.setEntries(this.source());
  }

  list(): EntryView[] {
    return [...this.entries.values()].map((v) => ({ ...v }));
  }

  /** Runs an entry now (the admin's "run now"), outside its schedule; resolves with its result. */
  async runNow(id: string): Promise<RunResult> {
    const view = this.entries.get(id);
    if (!view) throw new Error(`no watch entry ${id}`);
    return this.inflight.get(id) ?? this.runOne(view, this.clock());
  }

  /** Called by the timer, and by tests after they move the clock: runs whatever is due. */
  async tick(): Promise<void> {
    this.setEntries(this.source());
    const now = this.clock();
    const due = [...this.entries.values()].filter((v) => !v.running && v.nextRun <= now);
    for (const view of due) {
      const tick = view.nextRun;
      view.nextRun = nextRun(view.entry.id, view.entry.config, now);
      if (!(await this.claim(view.entry.id, tick))) continue;
      await this.runOne(view, tick);
    }
    this.arm();
  }

  close(): void {
    this.closed = true;
    this.aborts.abort(new Error('shutting down'));
    if (this.timer !== undefined) this.timer_.clear(this.timer);
  }

  private runOne(view: EntryView, tick: number): Promise<RunResult> {
    const id = view.entry.id;
    const run = this.runAndRecord(view, tick).finally(() => this.inflight.delete(id));
    this.inflight.set(id, run);
    return run;
  }

  private async runAndRecord(view: EntryView, _tick: number): Promise<RunResult> {
    view.running = true;
    try {
      const result = await this.runner.run(view.entry, this.aborts.signal);
      view.lastResult = { ...result, at: this.clock() };
      return result;
    } catch (err) {
      this.log.error({ err, entry: view.entry.id }, 'watch run crashed');
      const result: RunResult = { result: 'failed', changed: 0, bytes: 0, message: (err as Error).message };
      view.lastResult = { ...result, at: this.clock() };
      return result;
    } finally {
      view.running = false;
    }
  }

  private arm(): void {
    if (this.closed) return;
    if (this.timer !== undefined) this.timer_.clear(this.timer);
    const soonest = Math.min(this.clock() + refreshMs, ...[...this.entries.values()].map((v) => v.nextRun));
    this.timer = this.timer_.set(Math.max(0, soonest - this.clock()), () => {
      this.tick().catch((err: unknown) => this.log.error({ err }, 'watch tick failed'));
    });
  }
}
