// The byte path's silence timeout (src/upstream/quiet-timer.ts): chunks only record their time, and it fires once,
// no earlier than `ms` after the last one.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { QuietTimer } from '../../../src/upstream/quiet-timer.js';

describe('QuietTimer', () => {
  test('fires once, `ms` after it was made when nothing touches it', async () => {
    const started = performance.now();
    const fired: number[] = [];
    new QuietTimer(60, () => fired.push(performance.now() - started));
    await sleep(200);
    assert.equal(fired.length, 1);
    assert.ok((fired[0] as number) >= 59, `fired after ${fired[0]} ms`);
  });

  test('touches keep it quiet; it fires no earlier than `ms` after the last one', async () => {
    let fired: number | undefined;
    const timer = new QuietTimer(80, () => (fired = performance.now()));
    let last = performance.now();
    for (let i = 0; i < 8; i++) {
      await sleep(25);
      last = performance.now();
      timer.touch(last);
    }
    assert.equal(fired, undefined, 'touched every 25 ms: never quiet for 80');
    await sleep(250);
    assert.ok(fired !== undefined, 'fired once the touches stopped');
    assert.ok(fired - last >= 79, `fired ${fired - last} ms after the last touch`);
  });

  test('stopped, it never fires', async () => {
    let fired = false;
    const timer = new QuietTimer(30, () => (fired = true));
    await sleep(10);
    timer.touch();
    timer.stop();
    await sleep(100);
    assert.equal(fired, false);
  });

  test('stopped after it fired early and waits for the rest, it never fires, and no timer is left', async () => {
    const timers = (): number => process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;
    const before = timers();
    let fired = false;
    const timer = new QuietTimer(60, () => (fired = true));
    await sleep(40);
    timer.touch();
    // Its first expiry (at 60 ms) found 20 ms of quiet and waits 40 more.
    await sleep(40);
    timer.stop();
    assert.equal(timers(), before, 'no timer of it is left to keep the process up');
    await sleep(100);
    assert.equal(fired, false);
  });
});
