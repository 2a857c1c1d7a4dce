import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { TokenCache, type Token } from '../../../src/upstream/token-cache.js';

/** A clock the test moves by hand. */
function manualClock(start = 1_000_000): { now: () => number; advance: (ms: number) => void } {
  let t = start;
  return { now: () => t, advance: (ms) => void (t += ms) };
}

function deferred<T>(): { promise: Promise<T>; resolve: (v: T) => void; reject: (e: unknown) => void } {
  let resolve!: (v: T) => void;
  let reject!: (e: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

const key = TokenCache.key('https://auth.test/token', 'registry.test', ['repository:library/nginx:pull']);

describe('TokenCache.key', () => {
  it('scopes are sorted and de-duplicated', () => {
    assert.equal(TokenCache.key('r', 's', ['b', 'a', 'b']), TokenCache.key('r', 's', ['a', 'b']));
  });

  it('a missing service equals an empty one', () => assert.equal(TokenCache.key('r', undefined, ['a']), TokenCache.key('r', '', ['a'])));

  it('realm, service and scopes each change the key', () => {
    const base = TokenCache.key('r', 's', ['a']);
    assert.notEqual(TokenCache.key('r2', 's', ['a']), base);
    assert.notEqual(TokenCache.key('r', 's2', ['a']), base);
    assert.notEqual(TokenCache.key('r', 's', ['a', 'b']), base);
  });

  it('values cannot run into each other', () => {
    assert.notEqual(TokenCache.key('a', 'b c', []), TokenCache.key('a b', 'c', []));
    assert.notEqual(TokenCache.key('r', 's', ['a b']), TokenCache.key('r', 's', ['a', 'b']));
  });
});

describe('TokenCache expiry', () => {
  it('a fetched token is served from the cache until it expires', async () => {
    const clock = manualClock();
    const cache = new TokenCache(clock.now);
    let fetches = 0;
    const fetch = async (): Promise<Token> => ({ value: `t${++fetches}`, expiresAt: clock.now() + 1000 });
    assert.equal((await cache.get(key, fetch)).value, 't1');
    clock.advance(999);
    assert.equal((await cache.get(key, fetch)).value, 't1');
    assert.equal(fetches, 1);
    clock.advance(1);
    assert.equal((await cache.get(key, fetch)).value, 't2', 'a token is not used at its expiry instant');
    assert.equal(fetches, 2);
  });

  it('peek returns a live token and forgets an expired one', () => {
    const clock = manualClock();
    const cache = new TokenCache(clock.now);
    cache.set(key, { value: 'v', expiresAt: clock.now() + 10 });
    assert.deepEqual(cache.peek(key), { value: 'v', expiresAt: clock.now() + 10 });
    clock.advance(10);
    assert.equal(cache.peek(key), undefined);
    clock.advance(-10);
    assert.equal(cache.peek(key), undefined, 'an expired token is dropped, not kept for a clock that goes back');
  });

  it('an unknown key peeks as undefined', () => assert.equal(new TokenCache(() => 0).peek('nope'), undefined));

  it('different keys are fetched separately', async () => {
    const cache = new TokenCache(() => 0);
    const a = await cache.get('a', async () => ({ value: 'A', expiresAt: 100 }));
    const b = await cache.get('b', async () => ({ value: 'B', expiresAt: 100 }));
    assert.deepEqual([a.value, b.value], ['A', 'B']);
  });
});

describe('TokenCache single-flight', () => {
  it('concurrent misses for one key run one fetch', async () => {
    const cache = new TokenCache(() => 0);
    const pending = deferred<Token>();
    let fetches = 0;
    const fetch = (): Promise<Token> => {
      fetches++;
      return pending.promise;
    };
    const callers = Array.from({ length: 10 }, () => cache.get(key, fetch));
    assert.equal(fetches, 1);
    pending.resolve({ value: 'shared', expiresAt: 100 });
    const tokens = await Promise.all(callers);
    assert.ok(tokens.every((t) => t.value === 'shared'));
    assert.equal((await cache.get(key, fetch)).value, 'shared');
    assert.equal(fetches, 1);
  });

  it('a failed fetch fails every waiter, is not cached, and the next call retries', async () => {
    const cache = new TokenCache(() => 0);
    const pending = deferred<Token>();
    let fetches = 0;
    const failing = (): Promise<Token> => {
      fetches++;
      return pending.promise;
    };
    const callers = Array.from({ length: 3 }, () => cache.get(key, failing));
    pending.reject(new Error('token service down'));
    const results = await Promise.allSettled(callers);
    assert.ok(results.every((r) => r.status === 'rejected' && (r.reason as Error).message === 'token service down'));
    assert.equal(fetches, 1);
    assert.equal(cache.peek(key), undefined);

    const retried = await cache.get(key, async () => {
      fetches++;
      return { value: 'fresh', expiresAt: 100 };
    });
    assert.equal(retried.value, 'fresh');
    assert.equal(fetches, 2);
  });

  it('a fetch for an expired token is shared too', async () => {
    const clock = manualClock();
    const cache = new TokenCache(clock.now);
    cache.set(key, { value: 'old', expiresAt: clock.now() + 1 });
    clock.advance(1);
    let fetches = 0;
    const fetch = async (): Promise<Token> => ({ value: `new${++fetches}`, expiresAt: clock.now() + 1000 });
    const [a, b] = await Promise.all([cache.get(key, fetch), cache.get(key, fetch)]);
    assert.deepEqual([a.value, b.value, fetches], ['new1', 'new1', 1]);
  });
});

describe('TokenCache.invalidate', () => {
  it('removes the token the upstream called invalid', () => {
    const cache = new TokenCache(() => 0);
    cache.set(key, { value: 'bad', expiresAt: 100 });
    cache.invalidate(key, 'bad');
    assert.equal(cache.peek(key), undefined);
  });

  it('keeps a newer token that already replaced the invalid one', () => {
    const cache = new TokenCache(() => 0);
    cache.set(key, { value: 'newer', expiresAt: 100 });
    cache.invalidate(key, 'bad');
    assert.equal(cache.peek(key)?.value, 'newer');
  });

  it('ignores an unknown key', () => {
    const cache = new TokenCache(() => 0);
    cache.invalidate('nope', 'x');
    assert.equal(cache.peek('nope'), undefined);
  });

  it('the next get after an invalidation fetches again', async () => {
    const cache = new TokenCache(() => 0);
    let fetches = 0;
    const fetch = async (): Promise<Token> => ({ value: `t${++fetches}`, expiresAt: 100 });
    const first = await cache.get(key, fetch);
    cache.invalidate(key, first.value);
    assert.equal((await cache.get(key, fetch)).value, 't2');
  });
});
