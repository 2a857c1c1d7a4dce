import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseRetryAfter, retryDelay, sleep } from '../../../src/upstream/retry-policy.js';

const settings = { attempts: 4, minDelayMs: 200, maxDelayMs: 2000 };

describe('retryDelay', () => {
  it('grows exponentially from minDelay, capped at maxDelay, at the top of the jitter', () => {
    const top = () => 0.999999;
    assert.deepEqual([1, 2, 3].map((a) => retryDelay({ ...settings, attempts: 10 }, a, undefined, top)), [200, 400, 800]);
    assert.equal(retryDelay({ ...settings, attempts: 10 }, 6, undefined, top), 2000);
  });

  it('never waits less than minDelay (bottom of the jitter)', () => {
    for (const a of [1, 2, 3]) assert.equal(retryDelay(settings, a, undefined, () => 0), 200);
  });

  it('jitter spreads the delay within its bounds', () => {
    const d = retryDelay(settings, 3, undefined, () => 0.5);
    assert.equal(d, 500);
  });

  it('stops after the configured number of attempts', () => {
    assert.equal(retryDelay(settings, 4, undefined), undefined);
    assert.equal(retryDelay({ ...settings, attempts: 1 }, 1, undefined), undefined);
  });

  it('honours a short Retry-After exactly and gives up on one longer than maxDelay', () => {
    assert.equal(retryDelay(settings, 1, 1500), 1500);
    assert.equal(retryDelay(settings, 1, 0), 0);
    assert.equal(retryDelay(settings, 1, 30_000), undefined);
  });
});

describe('parseRetryAfter', () => {
  const now = Date.parse('2026-01-01T00:00:00Z');
  it('reads delta-seconds and HTTP dates; ignores garbage', () => {
    assert.equal(parseRetryAfter('2', now), 2000);
    assert.equal(parseRetryAfter(['1', '9'], now), 1000);
    assert.equal(parseRetryAfter('Thu, 01 Jan 2026 00:00:03 GMT', now), 3000);
    assert.equal(parseRetryAfter('Wed, 31 Dec 2025 00:00:00 GMT', now), 0);
    assert.equal(parseRetryAfter('soon', now), undefined);
    assert.equal(parseRetryAfter(undefined, now), undefined);
  });
});

describe('sleep', () => {
  it('is cut short by an abort', async () => {
    const controller = new AbortController();
    const started = Date.now();
    const waiting = sleep(10_000, controller.signal);
    controller.abort(new Error('client left'));
    await assert.rejects(waiting, /client left/);
    assert.ok(Date.now() - started < 1000);
  });
});
