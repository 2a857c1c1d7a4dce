// Lease renewals against a slow object store: one renewal at a time, each sent early enough that the lease never
// expires while its holder is alive, so no other replica takes it over and the holder never thinks it lost it.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import pino from 'pino';
import { LeaseStore } from '../../../src/cluster/leases.js';
import { startSlowObjectStore, type SlowObjectStore } from '../../support/slow-object-store.js';

const log = pino({ level: 'silent' });

describe('lease renewals on a slow store', () => {
  let store: SlowObjectStore;
  before(async () => {
    store = await startSlowObjectStore();
  });
  after(() => store.close());

  const leases = (replica: string, ttlMs: number) =>
    new LeaseStore({ client: store.client, bucket: 'b', prefix: 'p/', ttlMs, self: { owner: `http://${replica}`, replica, incarnation: replica }, log });

  it('a renewal slower than the renewal interval is never overlapped by the next, and the lease is never lost', async () => {
    const ttlMs = 900; // renewed every 300 ms
    const holder = leases('holder', ttlMs);
    let lost = 0;
    const held = await holder.hold('fills/slow', undefined, () => lost++);
    assert.ok(held.won);
    store.putDelayMs = 450; // each renewal takes longer than the interval between renewals
    const other = leases('other', ttlMs);
    const takeovers: string[] = [];
    const until = Date.now() + 3_000;
    while (Date.now() < until) {
      await new Promise((r) => setTimeout(r, 200));
      const claim = await other.claim('fills/slow');
      if (claim.won) takeovers.push('other took the lease over');
    }
    store.putDelayMs = 0;
    await held.release();
    assert.equal(store.maxConcurrentPuts.get('/b/p/leases/fills/slow holder'), 1, 'one write of the lease at a time');
    assert.equal(lost, 0, 'the holder never believed its lease taken over');
    assert.deepEqual(takeovers, [], 'no other replica took over a lease whose holder is alive');
  });
});
