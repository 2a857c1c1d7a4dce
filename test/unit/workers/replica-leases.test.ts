// The leases of the workers of a replica (src/workers/replica-leases.ts): the machine's lease first, then the
// cluster's. Both layers are real SQLite lease files here: each machine's workers.db, and a third file standing for
// the bucket that all machines share (the same claim/hold protocol as the bucket's LeaseStore).
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import pino from 'pino';
import { LocalLeases } from '../../../src/workers/local-leases.js';
import { ReplicaLeases } from '../../../src/workers/replica-leases.js';

const log = pino({ level: 'silent' });

describe('leases of the workers of a replica', () => {
  let dir: string;
  const open: LocalLeases[] = [];
  /** Counts the claims that reach the shared layer. */
  let sharedClaims = 0;
  const lease = (dataDir: string, name: string) => {
    const l = new LocalLeases({ dataDir, ttlMs: 5000, self: { owner: `http://127.0.0.1/${name}`, replica: name }, log });
    open.push(l);
    return l;
  };
  const worker = (machine: string, name: string) => {
    const shared = lease(join(dir, 'bucket'), `${machine}/${name}`);
    const counted = {
      ttlMs: shared.ttlMs,
      claim: (...a: Parameters<LocalLeases['claim']>) => ((sharedClaims++, shared.claim(...a))),
      hold: (...a: Parameters<LocalLeases['hold']>) => ((sharedClaims++, shared.hold(...a))),
    };
    return new ReplicaLeases(lease(join(dir, machine), name), counted);
  };
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'pullgate-replica-leases-'));
    for (const d of ['bucket', 'm1', 'm2']) await mkdir(join(dir, d));
  });
  after(async () => {
    for (const l of open) l.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('only the worker holding the machine lease asks the shared layer; a worker of another machine is told who holds it', async () => {
    const [a1, b1, a2] = [worker('m1', 'a'), worker('m1', 'b'), worker('m2', 'a')];
    sharedClaims = 0;
    const won = await a1.hold('fills/one', { upstream: 'hub', repository: 'team/app' });
    assert.equal(won.won, true);
    const sibling = await b1.hold('fills/one');
    assert.equal(sibling.won, false);
    assert.equal(!sibling.won && sibling.holder.owner, 'http://127.0.0.1/a', 'the sibling is told the holder on its machine');
    assert.equal(sharedClaims, 1, 'the sibling never asked the shared layer');
    const other = await a2.hold('fills/one');
    assert.equal(other.won, false);
    assert.equal(!other.won && other.holder.replica, 'm1/a', 'the other machine is told the holder in the shared layer');
    assert.equal(sharedClaims, 2);
    if (won.won) await won.release();
    const next = await a2.hold('fills/one');
    assert.equal(next.won, true, 'released on both layers');
    if (next.won) await next.release();
  });

  it("gives the machine lease back when the shared layer's is held elsewhere, so a sibling may try next", async () => {
    const [a1, b1, a2] = [worker('m1', 'a'), worker('m1', 'b'), worker('m2', 'a')];
    const held = await a2.hold('fills/two');
    assert.equal(held.won, true);
    assert.equal((await a1.hold('fills/two')).won, false);
    assert.equal((await b1.claim('fills/two')).won, false, 'lost in the shared layer, not on the machine');
    if (held.won) await held.release();
    assert.equal((await b1.claim('fills/two')).won, true);
  });
});
