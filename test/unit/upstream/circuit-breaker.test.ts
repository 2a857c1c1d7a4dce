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
    b.tryAcquire()!.failure('HTTP 503');
    b.tryAcquire()!.failure('HTTP 503');
    b.tryAcquire()!.success();
    b.tryAcquire()!.failure('HTTP 503');
    b.tryAcquire()!.failure('HTTP 503');
    assert.equal(b.state, 'closed');
    assert.equal(b.failures, 2);
    assert.ok(b.tryAcquire());
  });

  it('opens after N consecutive failures, refuses at once, and tells why', () => {
    const { b, changes } = breaker(3);
    for (let i = 0; i < 3; i++) b.tryAcquire()!.failure('ECONNREFUSED');
    assert.equal(b.state, 'open');
    assert.equal(b.tryAcquire(), undefined);
    assert.deepEqual(changes, [{ from: 'closed', to: 'open', failures: 3, reason: 'ECONNREFUSED' }]);
    assert.equal(b.lastReason, 'ECONNREFUSED');
  });

  it('after openFor lets exactly one probe through; others are refused while it runs', () => {
    const { b, advance } = breaker(1, 30_000);
    b.tryAcquire()!.failure('HTTP 502');
    advance(29_999);
    assert.equal(b.tryAcquire(), undefined);
    advance(1);
    assert.equal(b.state, 'half-open');
    assert.ok(b.tryAcquire());
    assert.equal(b.tryAcquire(), undefined);
    assert.equal(b.tryAcquire(), undefined);
  });

  it('a successful probe closes the circuit', () => {
    const { b, advance, changes } = breaker(1, 1000);
    b.tryAcquire()!.failure('HTTP 502');
    advance(1000);
    const probe = b.tryAcquire();
    assert.ok(probe);
    probe.success();
    assert.equal(b.state, 'closed');
    assert.equal(b.failures, 0);
    assert.deepEqual(changes.map((c) => `${c.from}>${c.to}`), ['closed>open', 'open>half-open', 'half-open>closed']);
  });

  it('a failed probe re-opens the circuit for another full openFor', () => {
    const { b, advance } = breaker(2, 1000);
    b.tryAcquire()!.failure('x');
    b.tryAcquire()!.failure('x');
    advance(1000);
    const probe = b.tryAcquire();
    assert.ok(probe);
    probe.failure('still down');
    assert.equal(b.state, 'open');
    advance(999);
    assert.equal(b.tryAcquire(), undefined);
    advance(1);
    assert.ok(b.tryAcquire());
  });

  it('a probe released without a verdict (client gone) frees the slot for the next probe', () => {
    const { b, advance } = breaker(1, 1000);
    b.tryAcquire()!.failure('x');
    advance(1000);
    const probe = b.tryAcquire();
    assert.ok(probe);
    probe.release();
    assert.equal(b.state, 'half-open');
    assert.ok(b.tryAcquire());
  });

  it('a permit from before the circuit opened reports nothing into the half-open circuit', () => {
    const { b, advance, changes } = breaker(1, 1000);
    const early = b.tryAcquire();
    assert.ok(early);
    b.tryAcquire()!.failure('x');
    advance(1000);
    const probe = b.tryAcquire();
    assert.ok(probe);
    early.release();
    assert.equal(b.tryAcquire(), undefined, 'the slot is still the probe\'s');
    early.success();
    assert.equal(b.state, 'half-open', 'a report after release changes nothing either');
    probe.success();
    probe.failure('reported twice');
    assert.equal(b.state, 'closed', 'a permit reports once');
    assert.deepEqual(changes.map((c) => `${c.from}>${c.to}`), ['closed>open', 'open>half-open', 'half-open>closed']);
  });

  it('reports when an open circuit will let its probe through', () => {
    const { b } = breaker(1, 5000);
    assert.equal(b.retryAt, undefined);
    b.tryAcquire()!.failure('x');
    assert.equal(b.retryAt, 1_000_000 + 5000);
  });
});
