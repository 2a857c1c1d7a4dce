// `cache.storage.readCache`: a size in bytes, only in front of a bucket, every bad value refused by its path.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { validateConfig } from '../../../src/config/load.js';
import { problemsOf } from './config-problems.js';

const s3 = (readCache: unknown) => ({ cache: { storage: { type: 's3', bucket: 'pullgate-cache', readCache } } });

describe('cache.storage.readCache', () => {
  it('is absent unless configured', () => {
    const storage = validateConfig(s3(undefined)).cache.storage;
    assert.equal(storage.type === 's3' && storage.readCache, undefined);
  });

  it('takes maxSize as a size with a unit or a number of bytes', () => {
    const storage = validateConfig(s3({ maxSize: '20GiB' })).cache.storage;
    assert.deepEqual(storage.type === 's3' ? storage.readCache : undefined, { maxSize: 20 * 2 ** 30 });
    const bytes = validateConfig(s3({ maxSize: 5 * 2 ** 20 })).cache.storage;
    assert.deepEqual(bytes.type === 's3' ? bytes.readCache : undefined, { maxSize: 5 * 2 ** 20 });
  });

  it('refuses a missing, tiny or unreadable maxSize and unknown keys, each by its path', () => {
    assert.match(problemsOf(s3({})).join('\n'), /cache\.storage\.readCache\.maxSize/);
    assert.match(problemsOf(s3({ maxSize: '20' })).join('\n'), /cache\.storage\.readCache\.maxSize: expected a size of at least 1MiB/);
    assert.match(problemsOf(s3({ maxSize: 'lots' })).join('\n'), /cache\.storage\.readCache\.maxSize: .*got lots/);
    assert.match(problemsOf(s3({ maxSize: '1GiB', lowWater: 0.5 })).join('\n'), /lowWater/);
  });

  it('is refused on the disk storage, which has nothing to cache', () => {
    assert.match(problemsOf({ cache: { storage: { type: 'disk', readCache: { maxSize: '1GiB' } } } }).join('\n'), /readCache/);
  });

  it('is refused next to redirect: true, where hits never read it', () => {
    const both = { cache: { storage: { type: 's3', bucket: 'pullgate-cache', redirect: true, readCache: { maxSize: '1GiB' } } } };
    assert.match(problemsOf(both).join('\n'), /cache\.storage\.readCache: with redirect: true clients fetch hits from the bucket itself/);
  });
});
