import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { CachingGate, isDiskFull } from '../../../src/cache/disk-space.js';
import { capturedLog, manualClock } from './cache-fixtures.js';

const errno = (code: string): NodeJS.ErrnoException => Object.assign(new Error(code), { code });

describe('isDiskFull', () => {
  const cases: Array<[string, unknown, boolean]> = [
    ['ENOSPC', errno('ENOSPC'), true],
    ['EDQUOT', errno('EDQUOT'), true],
    ['ENOSPC as the cause of a wrapping error', new Error('fill failed', { cause: errno('ENOSPC') }), true],
    ['EACCES', errno('EACCES'), false],
    ['an error without a code', new Error('boom'), false],
    ['a string', 'ENOSPC', false],
    ['undefined', undefined, false],
  ];
  for (const [name, err, expected] of cases) it(`${name} is ${expected ? '' : 'not '}a full disk`, () => assert.equal(isDiskFull(err), expected));
});

describe('CachingGate', () => {
  function gate(): { gate: CachingGate; clock: ReturnType<typeof manualClock>; lines: Array<Record<string, unknown>> } {
    const clock = manualClock();
    const { log, lines } = capturedLog();
    return { gate: new CachingGate({ clock: clock.now, backoffMs: 10_000, log }), clock, lines };
  }

  it('allows caching until the disk fills', () => {
    const { gate: g } = gate();
    assert.equal(g.allowed(), true);
    assert.equal(g.suspended, false);
  });

  it('ignores failures that are not a full disk', () => {
    const { gate: g, lines } = gate();
    assert.equal(g.failed(errno('ECONNRESET')), false);
    assert.equal(g.allowed(), true);
    assert.equal(lines.length, 0);
  });

  it('a full disk suspends caching, logs once, and lets a fill retry after the back-off', () => {
    const { gate: g, clock, lines } = gate();
    assert.equal(g.failed(errno('ENOSPC')), true);
    assert.equal(g.allowed(), false);
    clock.advance(9_999);
    assert.equal(g.allowed(), false);
    clock.advance(1);
    assert.equal(g.allowed(), true, 'the back-off is over: the next fill may try');
    g.failed(errno('ENOSPC')); // still full
    assert.equal(g.allowed(), false);
    g.failed(errno('EDQUOT'));
    assert.equal(lines.filter((l) => l.level === 40).length, 1, 'one warning per outage');
    assert.equal(g.suspended, true);
  });

  it('a successful commit ends the outage and logs the recovery once; the next outage warns again', () => {
    const { gate: g, clock, lines } = gate();
    g.failed(errno('ENOSPC'));
    clock.advance(10_000);
    g.succeeded();
    g.succeeded();
    assert.equal(g.allowed(), true);
    assert.equal(g.suspended, false);
    assert.deepEqual(lines.map((l) => l.level), [40, 30]);
    g.failed(errno('ENOSPC'));
    assert.deepEqual(lines.map((l) => l.level), [40, 30, 40]);
  });
});
