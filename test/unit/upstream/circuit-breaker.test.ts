import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { CircuitBreaker, type CircuitChange } from '../../../src/upstream/circuit-breaker.js';

function breaker(failures = 3, openForMs = 30_000) {
  let now = 1_000_000;
  const changes: CircuitChange[] = [];
  const b = new CircuitBreaker({ failures, openForMs }, () => now, (c) => changes.push(c));
  return { b, changes, advance: (ms: number) => (now += ms) };
}

describe('CircuitBreaker', () => {
  it('stays closed below the failure threshold and a success resets the count', () => {
    const { b } = breaker(3);
    b.failure('HTTP 503');
    b.failure('HTTP 503');
    b.success();
    b.failure('HTTP 503');
    b.failure('HTTP 503');
    assert.equal(b.state, 'closed');
    assert.equal(b.failures, 2);
    assert.equal(b.tryAcquire(), true);
  });

  it('opens after N consecutive failures, refuses at once, and tells why', () => {
    const { b, changes } = breaker(3);
    for (let i = 0; i < 3; i++) b.failure('ECONNREFUSED');
    assert.equal(b.state, 'open');
    assert.equal(b.tryAcquire(), false);
    assert.deepEqual(changes, [{ from: 'closed', to: 'open', failures: 3, reason: 'ECONNREFUSED' }]);
    assert.equal(b.lastReason, 'ECONNREFUSED');
  });

  it('after openFor lets exactly one probe through; others are refused while it runs', () => {
    const { b, advance } = breaker(1, 30_000);
    b.failure('HTTP 502');
    advance(29_999);
    assert.equal(b.tryAcquire(), false);
    advance(1);
    assert.equal(b.state, 'half-open');
    assert.equal(b.tryAcquire(), true);
    assert.equal(b.tryAcquire(), false);
    assert.equal(b.tryAcquire(), false);
  });

  it('a successful probe closes the circuit', () => {
    const { b, advance, changes } = breaker(1, 1000);
    b.failure('HTTP 502');
    advance(1000);
    assert.equal(b.tryAcquire(), true);
    b.success();
    assert.equal(b.state, 'closed');
    assert.equal(b.failures, 0);
    assert.deepEqual(changes.map((c) => `${c.from}>${c.to}`), ['closed>open', 'open>half-open', 'half-open>closed']);
  });

  it('a failed probe re-opens the circuit for another full openFor', () => {
    const { b, advance } = breaker(2, 1000);
    b.failure('x');
    b.failure('x');
    advance(1000);
    assert.equal(b.tryAcquire(), true);
    b.failure('still down');
    assert.equal(b.state, 'open');
    advance(999);
    assert.equal(b.tryAcquire(), false);
    advance(1);
    assert.equal(b.tryAcquire(), true);
  });

  it('a probe released without a verdict (client gone) frees the slot for the next probe', () => {
    const { b, advance } = breaker(1, 1000);
    b.failure('x');
    advance(1000);
    assert.equal(b.tryAcquire(), true);
    b.release();
    assert.equal(b.state, 'half-open');
    assert.equal(b.tryAcquire(), true);
  });

  it('reports when an open circuit will let its probe through', () => {
    const { b } = breaker(1, 5000);
    assert.equal(b.retryAt, undefined);
    b.failure('x');
    assert.equal(b.retryAt, 1_000_000 + 5000);
  });
});
