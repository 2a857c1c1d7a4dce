// The room fills may claim: reservations of announced sizes against the cache's maximum, released once each.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { FillRoom } from '../../../src/cache/disk-space.js';

describe('FillRoom', () => {
  it('reserves announced sizes up to the maximum, together', () => {
    const room = new FillRoom(() => 1000);
    const a = room.reserve(600);
    assert.ok(a);
    assert.equal(room.reserve(500), undefined, 'two fills would claim more than the cache');
    const b = room.reserve(400);
    assert.ok(b);
    assert.equal(room.inUse, 1000);
    a();
    a(); // a release counts once
    assert.equal(room.inUse, 400);
    assert.ok(room.reserve(600));
  });

  it('refuses a size larger than the cache, and sizes that are not sizes', () => {
    const room = new FillRoom(() => 1000);
    for (const bytes of [1001, 2 ** 40, Number.MAX_SAFE_INTEGER + 2, -1, 1.5, Number.NaN]) assert.equal(room.reserve(bytes), undefined, String(bytes));
    assert.equal(room.inUse, 0);
  });

  it('follows the maximum as it changes (a config reload)', () => {
    let max = 100;
    const room = new FillRoom(() => max);
    assert.equal(room.reserve(200), undefined);
    max = 300;
    assert.ok(room.reserve(200));
  });
});
