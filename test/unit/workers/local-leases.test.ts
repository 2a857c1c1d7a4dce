// Leases between the workers of one machine in a real SQLite file (src/workers/local-leases.ts): one holder at a
// time, taken over when it expired or its process is gone, renewed while held, given back on release.
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import pino from 'pino';
import { LocalLeases, processAlive } from '../../../src/workers/local-leases.js';

const log = pino({ level: 'silent' });

describe('local leases', () => {
  let dir: string;
  const open: LocalLeases[] = [];
  const leases = (name: string, o: Partial<ConstructorParameters<typeof LocalLeases>[0]> = {}) => {
    const l = new LocalLeases({ dataDir: dir, ttlMs: 1000, self: { owner: `http://127.0.0.1/${name}`, replica: name }, log, ...o });
    open.push(l);
    return l;
  };
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'pullgate-local-leases-'));
  });
  after(async () => {
    for (const l of open) l.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('gives a lease to one worker; the others are told who holds it, with what it was taken for', async () => {
    const [a, b] = [leases('a'), leases('b')];
    const won = await a.claim('fills/one', { upstream: 'hub', repository: 'team/app' });
    assert.equal(won.won, true);
    const lost = await b.claim('fills/one');
    assert.equal(lost.won, false);
    assert.equal(!lost.won && lost.holder.owner, 'http://127.0.0.1/a');
    assert.deepEqual(!lost.won && lost.holder.about, { upstream: 'hub', repository: 'team/app' });
  });

  it('takes over the lease of a worker whose process is gone, before its expiry', async () => {
    const a = leases('a');
    const b = leases('b', { alive: () => false });
    assert.equal((await a.claim('fills/two')).won, true);
    assert.equal((await b.claim('fills/two')).won, true);
  });

  it('takes over an expired lease; the old holder finds it lost when it renews', async () => {
    let now = 0;
    const a = leases('a', { clock: () => now });
    const b = leases('b', { clock: () => now });
    const claim = await a.claim('fills/three');
    assert.ok(claim.won);
    now = 500;
    assert.equal((await b.claim('fills/three')).won, false);
    now = 1500;
    assert.equal((await b.claim('fills/three')).won, true);
    assert.equal(await a.renew(claim.lease), undefined);
  });

  it('keeps a held lease renewed past its TTL, and lets the next worker have it once released', async () => {
    const a = leases('a', { ttlMs: 300 });
    const b = leases('b', { ttlMs: 300 });
    const held = await a.hold('eviction');
    assert.ok(held.won);
    await new Promise((r) => setTimeout(r, 700));
    assert.equal((await b.claim('eviction')).won, false, 'still held after twice the TTL');
    await held.release();
    assert.equal((await b.claim('eviction')).won, true);
  });

  it("counts the machine's live leases by prefix, and tells who holds one and whether it lives", async () => {
    let now = 10_000;
    const a = leases('count-a', { clock: () => now });
    const b = leases('count-b', { clock: () => now, alive: () => false });
    const before = a.count('fills/count/');
    assert.equal((await a.claim('fills/count/1')).won, true);
    assert.equal((await a.claim('fills/count/2')).won, true);
    assert.equal((await a.claim('eviction-count')).won, true);
    assert.equal(a.count('fills/count/') - before, 2);
    assert.deepEqual({ ...a.holder('fills/count/1'), record: undefined }, { record: undefined, live: true, self: true });
    const seen = b.holder('fills/count/1');
    assert.equal(seen?.record.replica, 'count-a');
    assert.equal(seen?.live, false, 'its process is gone, as this worker sees it');
    assert.equal(seen?.self, false);
    assert.equal(a.holder('fills/count/none'), undefined);
    now += 5_000;
    assert.equal(a.count('fills/count/'), 0, 'expired leases are not counted');
  });

  it('knows this process is alive and a made-up pid is not', () => {
    assert.equal(processAlive(process.pid), true);
    assert.equal(processAlive(2 ** 22 + 12345), false);
  });
});

describe('local leases left to expire', () => {
  it('are deleted an hour after their expiry', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'pullgate-local-leases-prune-'));
    let now = 1_000_000;
    const l = new LocalLeases({ dataDir: dir, ttlMs: 1000, self: { owner: 'http://127.0.0.1/a', replica: 'a' }, log, clock: () => now });
    try {
      assert.equal((await l.claim('watch-tick-1')).won, true);
      now += 2 * 3_600_000;
      await l.claim('watch-tick-2');
      const Database = (await import('better-sqlite3')).default;
      const db = new Database(join(dir, 'workers.db'), { readonly: true });
      const names = (db.prepare('SELECT name FROM leases ORDER BY name').all() as Array<{ name: string }>).map((r) => r.name);
      db.close();
      assert.deepEqual(names, ['watch-tick-2']);
    } finally {
      l.close();
      await rm(dir, { recursive: true, force: true });
    }
  });
});
