// The watch scheduler (docs/watch.md) with an injected clock and timer, not sleeps: one run per entry at a time,
// an entry keeps its schedule whatever happens while one of its runs is in progress, and a clock set back does not
// hold its runs back until the clock catches up.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import pino from 'pino';
import { watchEntrySchema } from '../../../src/config/watch.js';
import type { RunResult, WatchEntry, WatchRunner } from '../../../src/watch/watch-runner.js';
import { WatchScheduler, type Timer } from '../../../src/watch/watch-scheduler.js';

const minute = 60_000;
const entry: WatchEntry = { id: 'hub/team/app:latest', upstream: 'hub', config: watchEntrySchema.parse({ repository: 'team/app', every: '1m' }) };

/** A runner whose runs finish when the test says so. */
function heldRunner() {
  const runs: { finish: (r: RunResult) => void }[] = [];
  const runner = {
    run: () => new Promise<RunResult>((resolve) => runs.push({ finish: resolve })),
  } as unknown as WatchRunner;
  return { runner, runs };
}

/** Lets a tick reach its run (the lease claim and the run's start are a few promise turns). */
const settle = () => new Promise<void>((resolve) => setImmediate(resolve));

const manualTimer: Timer = { set: () => undefined, clear: () => undefined };
const ok: RunResult = { result: 'ok', changed: 0, bytes: 0 };

describe('the watch scheduler', () => {
  it('an entry whose run outlasts a tick runs again at its next time, and its result is listed', async () => {
    let now = 0;
    const { runner, runs } = heldRunner();
    const scheduler = new WatchScheduler(() => [entry], runner, () => now, pino({ level: 'silent' }), manualTimer);
    scheduler.start();
    now = minute;
    const first = scheduler.tick();
    await settle();
    assert.equal(runs.length, 1);
    // The timer fires again while the run is still fetching (a large image takes longer than a tick).
    now = 2 * minute;
    await scheduler.tick();
    assert.equal(runs.length, 1, 'never two runs of one entry at once');
    runs[0]?.finish({ ...ok, changed: 1 });
    await first;
    const [view] = scheduler.list();
    assert.equal(view?.running, false);
    assert.equal(view?.lastResult?.changed, 1);
    now = 3 * minute;
    const third = scheduler.tick();
    await settle();
    assert.equal(runs.length, 2, 'the entry runs again on schedule');
    runs[1]?.finish(ok);
    await third;
  });

  it('"run now" during a scheduled run joins it instead of starting a second one', async () => {
    let now = 0;
    const { runner, runs } = heldRunner();
    const scheduler = new WatchScheduler(() => [entry], runner, () => now, pino({ level: 'silent' }), manualTimer);
    scheduler.start();
    now = minute;
    const scheduled = scheduler.tick();
    await settle();
    const manual = scheduler.runNow(entry.id);
    await settle();
    assert.equal(runs.length, 1);
    runs[0]?.finish({ ...ok, changed: 2 });
    assert.equal((await manual).changed, 2);
    await scheduled;
  });

  it('a clock set back runs the entry at its next time on the new clock, not after the old one', async () => {
    let now = 10 * 24 * 60 * minute;
    const { runner, runs } = heldRunner();
    const scheduler = new WatchScheduler(() => [entry], runner, () => now, pino({ level: 'silent' }), manualTimer);
    scheduler.start();
    now -= 24 * 60 * minute; // NTP corrects a clock that ran a day ahead
    await scheduler.tick();
    now += 2 * minute;
    const later = scheduler.tick();
    await settle();
    assert.equal(runs.length, 1);
    runs[0]?.finish(ok);
    await later;
  });
});
