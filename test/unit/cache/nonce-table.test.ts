// The nonces a replica's endpoint accepted, shared by its workers in a real workers.db (src/cache/nonce-table.ts):
// a nonce is accepted once by the machine, forgotten once a signature carrying it could no longer pass, and past the
// bound every new nonce is refused (fails closed).
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { NonceTable } from '../../../src/cache/nonce-table.js';

describe('nonces shared by the workers of a replica', () => {
  let dir: string;
  const open: NonceTable[] = [];
  const dirs: string[] = [];
  const table = (max = 1000, at = dir) => {
    const t = new NonceTable(at, max);
    open.push(t);
    return t;
  };
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'pullgate-nonces-'));
  });
  after(async () => {
    for (const t of open) t.close();
    for (const d of [dir, ...dirs]) await rm(d, { recursive: true, force: true });
  });

  it('a nonce accepted by one worker is refused by every other', () => {
    const [a, b] = [table(), table()];
    assert.equal(a.firstUse('n1', 0, 20_000), true);
    assert.equal(b.firstUse('n1', 1, 20_001), false);
    assert.equal(a.firstUse('n1', 2, 20_002), false);
  });

  it('forgets a nonce once it may be forgotten', () => {
    const a = table();
    assert.equal(a.firstUse('n2', 0, 100), true);
    assert.equal(a.firstUse('n2', 100, 200), true);
  });

  it('refuses new nonces past the bound until old ones are forgotten', async () => {
    const own = await mkdtemp(join(tmpdir(), 'pullgate-nonces-'));
    dirs.push(own);
    const a = table(2, own);
    assert.equal(a.firstUse('x', 0, 100), true);
    assert.equal(a.firstUse('y', 0, 100), true);
    assert.equal(a.firstUse('z', 50, 150), false, 'full');
    assert.equal(a.firstUse('z', 100, 200), true, 'room again once the others are forgotten');
  });
});
