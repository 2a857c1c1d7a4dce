// Per-client counts shared by the workers of one machine through workers.db (src/workers/shared-client-counts.ts):
// two tables on one data directory stand for two worker processes.
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { ClientCountTable } from '../../../src/cache/client-count-table.js';
import { TransferSlotTable } from '../../../src/cache/transfer-slot-table.js';
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

  /** A worker's limits: its own connections to workers.db, under a pid of its own. */
  const worker = (table: ClientCountTable, settings: ConstructorParameters<typeof SharedClientLimits>[1], pid: number, alive: (pid: number) => boolean = () => true) =>
    new SharedClientLimits(table, settings, clock, { table: new TransferSlotTable(dir, alive), owner: { pid, worker: pid % 100 } });

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
    const [a, b] = [worker(table, settings, 101), worker(new ClientCountTable(dir, clock), settings, 102)] as const;
    assert.deepEqual([a.take('10.0.1.1'), b.take('10.0.1.1')], [0, 0]);
    assert.ok(a.take('10.0.1.1') > 0 && b.take('10.0.1.1') > 0, 'the burst of 2 for both workers');
    const rows = table.rows;
    assert.ok(rows >= 1);
    now += 120_000;
    a.take('10.0.1.9');
    assert.equal(table.rows, rows, 'the refilled bucket of 10.0.1.1 was deleted as the one of 10.0.1.9 was written');
  });

  it('two workers hold one client\'s transfers at once together; each gives back its own, and another client is apart', () => {
    const settings = { concurrentTransfers: 2 };
    const [a, b, c] = [1, 2, 3].map((w) => worker(new ClientCountTable(dir, clock), settings, 200 + w)) as [SharedClientLimits, SharedClientLimits, SharedClientLimits];
    assert.equal(a.startTransfer('10.0.2.1'), true);
    assert.equal(b.startTransfer('10.0.2.1'), true);
    assert.equal(c.startTransfer('10.0.2.1'), false, 'the limit of 2 for the machine');
    assert.equal(a.startTransfer('10.0.2.1'), false);
    assert.equal(c.startTransfer('10.0.2.2'), true, 'another client has slots of its own');
    a.endTransfer('10.0.2.1');
    assert.equal(c.startTransfer('10.0.2.1'), true, 'the slot given back is taken by another worker');
    assert.equal(b.startTransfer('10.0.2.1'), false);
    b.endTransfer('10.0.2.1');
    c.endTransfer('10.0.2.1');
    c.endTransfer('10.0.2.2');
    assert.equal(new TransferSlotTable(dir, () => true).held(), 0, 'every slot given back');
  });

  it('gives back the slots of a worker that is gone: at the client\'s limit, when the supervisor sees it exit, and at its replacement\'s start', () => {
    const gone = new Set<number>();
    const alive = (pid: number) => !gone.has(pid);
    const settings = { concurrentTransfers: 1 };
    const table = new TransferSlotTable(dir, alive);
    const [a, b] = [worker(new ClientCountTable(dir, clock), settings, 301, alive), worker(new ClientCountTable(dir, clock), settings, 302, alive)] as const;
    assert.equal(a.startTransfer('10.0.3.1'), true);
    gone.add(301);
    assert.equal(b.startTransfer('10.0.3.1'), true, 'the dead worker\'s slot is taken over by a take at the limit');
    assert.equal(a.startTransfer('10.0.3.2'), true);
    assert.equal(table.releaseProcess(301), 1, 'the supervisor deletes what the dead worker held');
    assert.equal(a.startTransfer('10.0.3.3'), true);
    assert.equal(table.releaseEarlier({ pid: 401, worker: 1 }), 1, 'a replacement in worker slot 1 deletes what 301 left');
    assert.equal(table.releaseEarlier({ pid: 402, worker: 2 }), 1, 'and 302\'s replacement what 302 held');
    assert.equal(table.held(), 0);
  });

  it('a slot whose release failed while workers.db was locked is given back once it is not, however many tries failed', async () => {
    // Another connection holds workers.db's write lock for the worker's first tries (busy timeout 20 ms): at the
    // release, then 1 s later; the next try, 2 s after that (the delay doubles), finds it free.
    const slots = new TransferSlotTable(dir, () => true, 20);
    const a = new SharedClientLimits(new ClientCountTable(dir, clock), { concurrentTransfers: 1 }, clock, { table: slots, owner: { pid: 501, worker: 1 } });
    assert.equal(a.startTransfer('10.0.5.1'), true);
    const other = new Database(join(dir, 'workers.db'));
    other.exec('BEGIN EXCLUSIVE');
    a.endTransfer('10.0.5.1');
    await sleep(2_500);
    other.exec('COMMIT');
    other.close();
    const held = () => new TransferSlotTable(dir, () => true).held('10.0.5.1');
    assert.equal(held(), 1, 'not given back while locked');
    await sleep(1_000);
    assert.equal(held(), 0, 'given back once workers.db is free, while the worker lives');
    assert.equal(a.startTransfer('10.0.5.1'), true, 'the client may start another');
    a.endTransfer('10.0.5.1');
  });

  it('the timed tries of a slot owed back off: each failed one waited for the busy timeout', async () => {
    const slots = new TransferSlotTable(dir, () => true, 20);
    let tries = 0;
    const release = slots.release.bind(slots);
    slots.release = (pid, id) => {
      tries++;
      release(pid, id);
    };
    const a = new SharedClientLimits(new ClientCountTable(dir, clock), { concurrentTransfers: 1 }, clock, { table: slots, owner: { pid: 503, worker: 3 } });
    assert.equal(a.startTransfer('10.0.5.3'), true);
    const other = new Database(join(dir, 'workers.db'));
    other.exec('BEGIN EXCLUSIVE');
    a.endTransfer('10.0.5.3');
    // Tries at 0, 1 and 3 s; every second would have made 4 by now.
    await sleep(3_500);
    other.exec('COMMIT');
    other.close();
    assert.equal(tries, 3);
    await sleep(4_200);
    assert.equal(new TransferSlotTable(dir, () => true).held('10.0.5.3'), 0, 'given back by the try at 7 s');
  });

  it('a slot owed is given back first thing on the next take', () => {
    const slots = new TransferSlotTable(dir, () => true, 20);
    const a = new SharedClientLimits(new ClientCountTable(dir, clock), { concurrentTransfers: 1 }, clock, { table: slots, owner: { pid: 502, worker: 2 } });
    assert.equal(a.startTransfer('10.0.5.2'), true);
    const other = new Database(join(dir, 'workers.db'));
    other.exec('BEGIN EXCLUSIVE');
    a.endTransfer('10.0.5.2');
    other.exec('COMMIT');
    other.close();
    assert.equal(a.startTransfer('10.0.5.2'), true, 'the owed slot was given back before the take');
    a.endTransfer('10.0.5.2');
    assert.equal(new TransferSlotTable(dir, () => true).held('10.0.5.2'), 0);
  });
});
