// Per-client counts shared by the workers of one machine through workers.db (src/workers/shared-client-counts.ts):
// two tables on one data directory stand for two worker processes.
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ClientCountTable } from '../../../src/cache/client-count-table.js';
import { SharedClientLimits, SharedLoginLimiter } from '../../../src/workers/shared-client-counts.js';

describe('per-client counts shared by workers', () => {
  let dir: string;
  let now = 1_000_000;
  const clock = () => now;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'pullgate-client-counts-'));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('two workers spend one client\'s login attempts together, and a success on either starts it afresh', () => {
    const limits = { perClient: 4, perNetwork: 20, windowMs: 60_000 };
    const [a, b] = [new ClientCountTable(dir, clock), new ClientCountTable(dir, clock)].map((t) => new SharedLoginLimiter(t, limits, clock)) as [SharedLoginLimiter, SharedLoginLimiter];
    assert.deepEqual([a.attempt('10.0.0.1'), b.attempt('10.0.0.1'), a.attempt('10.0.0.1'), b.attempt('10.0.0.1')], [0, 0, 0, 0]);
    assert.ok(a.attempt('10.0.0.1') > 0 && b.attempt('10.0.0.1') > 0, 'the fifth attempt is refused on both');
    assert.equal(b.attempt('10.0.0.2'), 0, 'another client is not affected');
    now += 61_000;
    assert.equal(a.retryAfter('10.0.0.1'), 0, 'the window passed');
    b.attempt('10.0.0.1');
    a.succeeded('10.0.0.1');
    assert.equal(b.retryAfter('10.0.0.1'), 0);
  });

  it('two workers take one client\'s requests from one bucket; buckets that refilled are deleted', () => {
    const table = new ClientCountTable(dir, clock);
    const settings = { requestsPerSecond: 1, burst: 2 };
    const [a, b] = [new SharedClientLimits(table, settings, clock), new SharedClientLimits(new ClientCountTable(dir, clock), settings, clock)] as const;
    assert.deepEqual([a.take('10.0.1.1'), b.take('10.0.1.1')], [0, 0]);
    assert.ok(a.take('10.0.1.1') > 0 && b.take('10.0.1.1') > 0, 'the burst of 2 for both workers');
    const rows = table.rows;
    assert.ok(rows >= 1);
    now += 120_000;
    a.take('10.0.1.9');
    assert.equal(table.rows, rows, 'the refilled bucket of 10.0.1.1 was deleted as the one of 10.0.1.9 was written');
  });
});
