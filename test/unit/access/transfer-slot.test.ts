// A transfer slot is given back once, when the response and every fill its request started are over.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { TransferSlot } from '../../../src/access/transfer-slot.js';

describe('TransferSlot', () => {
  it('without held work, the end of the response gives the slot back, once', () => {
    let released = 0;
    const slot = new TransferSlot(() => released++);
    slot.end();
    slot.end();
    assert.equal(released, 1);
  });

  it('held work keeps the slot after the response ended, until it settles, fulfilled or rejected', async () => {
    let released = 0;
    const slot = new TransferSlot(() => released++);
    let finish!: () => void;
    let fail!: (e: Error) => void;
    slot.holdUntil(new Promise<void>((r) => (finish = r)));
    slot.holdUntil(new Promise<void>((_r, j) => (fail = j)));
    slot.end();
    await new Promise((r) => setImmediate(r));
    assert.equal(released, 0);
    finish();
    await new Promise((r) => setImmediate(r));
    assert.equal(released, 0);
    fail(new Error('fill failed'));
    await new Promise((r) => setImmediate(r));
    assert.equal(released, 1);
  });

  it('work that settles before the response ends does not give the slot back early', async () => {
    let released = 0;
    const slot = new TransferSlot(() => released++);
    slot.holdUntil(Promise.resolve());
    await new Promise((r) => setImmediate(r));
    assert.equal(released, 0);
    slot.end();
    assert.equal(released, 1);
  });
});
