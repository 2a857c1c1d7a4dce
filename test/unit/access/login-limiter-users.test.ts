// A success takes back only the attempts at the user that logged in (src/access/login-limiter.ts, docs/security.md,
// "Registry login"): a client holding one user's password must not reset its guesses at another's by logging in.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { LoginLimiter } from '../../../src/access/login-limiter.js';

describe('login attempts per user', () => {
  it("a client's own successful logins do not give it more guesses at another user", () => {
    const limiter = new LoginLimiter({ perClient: 5, perNetwork: 25, windowMs: 300_000 }, () => 1_000);
    const client = '198.51.100.9';
    for (let i = 0; i < 4; i++) assert.equal(limiter.attempt(client, 'bob'), 0);
    assert.equal(limiter.attempt(client, 'alice'), 0);
    limiter.succeeded(client, 'alice');
    assert.equal(limiter.attempt(client, 'bob'), 0, 'the fifth guess at bob');
    assert.ok(limiter.attempt(client, 'bob') > 0, 'a sixth guess waits, though alice logged in between');
  });

  it('a user who mistyped their own password starts afresh once they log in', () => {
    const limiter = new LoginLimiter({ perClient: 5, perNetwork: 25, windowMs: 300_000 }, () => 1_000);
    const client = '198.51.100.10';
    for (let i = 0; i < 5; i++) assert.equal(limiter.attempt(client, 'alice'), 0);
    assert.ok(limiter.retryAfter(client) > 0);
    limiter.succeeded(client, 'alice');
    assert.equal(limiter.retryAfter(client), 0);
  });

  it("across a /48 too: logins as one user give back none of the guesses at another's", () => {
    const limiter = new LoginLimiter({ perClient: 5, perNetwork: 25, windowMs: 300_000 }, () => 1_000);
    const in48 = (n: number) => `2001:db8:48:${n.toString(16)}::7`;
    for (let n = 0; n < 24; n++) assert.equal(limiter.attempt(in48(n), 'bob'), 0);
    assert.equal(limiter.attempt(in48(30), 'alice'), 0);
    limiter.succeeded(in48(30), 'alice');
    assert.equal(limiter.attempt(in48(31), 'bob'), 0, 'the 25th guess');
    assert.ok(limiter.attempt(in48(32), 'bob') > 0, 'the 26th waits');
  });
});
