// `cache.storage.redirect`, `redirectTtl`, `redirectEndpoint`: off by default, a TTL within what a presigned URL
// allows (1m..7d), an endpoint that is an origin; every bad value refused by its path; S3 storage only.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { validateConfig } from '../../../src/config/load.js';
import { problemsOf } from './config-problems.js';

const s3 = (extra: Record<string, unknown> = {}) => ({ cache: { storage: { type: 's3', bucket: 'pullgate-cache', ...extra } } });
const storageOf = (extra: Record<string, unknown>) => {
  const s = validateConfig(s3(extra)).cache.storage;
  assert.equal(s.type, 's3');
  return s.type === 's3' ? s : assert.fail('s3 storage');
};

describe('cache.storage.redirect', () => {
  it('is off by default, with a 20 minute TTL and no separate endpoint', () => {
    const s = storageOf({});
    assert.deepEqual([s.redirect, s.redirectTtl, s.redirectEndpoint], [false, 20 * 60_000, undefined]);
  });

  it('takes a TTL as a duration string or seconds, from 1m to 7d inclusive', () => {
    assert.equal(storageOf({ redirect: true, redirectTtl: '1m' }).redirectTtl, 60_000);
    assert.equal(storageOf({ redirect: true, redirectTtl: '7d' }).redirectTtl, 7 * 86_400_000);
    assert.equal(storageOf({ redirect: true, redirectTtl: 300 }).redirectTtl, 300_000);
    assert.equal(storageOf({ redirect: true, redirectTtl: '1h30m' }).redirectTtl, 90 * 60_000);
  });

  it('refuses a TTL under a minute, over seven days, in fractions of a second or unreadable, naming redirectTtl', () => {
    for (const bad of ['59s', '8d', '604801s', '90.5s', 'soon', -5]) {
      assert.match(problemsOf(s3({ redirect: true, redirectTtl: bad })).join('\n'), /cache\.storage\.redirectTtl: a duration in whole seconds from 1m to 7d/, String(bad));
    }
  });

  it('takes an http(s) origin as redirectEndpoint and refuses paths, queries, credentials and other schemes by name', () => {
    assert.equal(storageOf({ redirect: true, redirectEndpoint: 'https://cdn.example.com' }).redirectEndpoint, 'https://cdn.example.com');
    assert.equal(storageOf({ redirect: true, redirectEndpoint: 'http://10.0.0.9:7480/' }).redirectEndpoint, 'http://10.0.0.9:7480/');
    for (const bad of ['https://cdn.example.com/bucket', 'https://cdn.example.com/?a=b', 'https://user:pw@cdn.example.com', 'ftp://cdn.example.com', 'cdn.example.com']) {
      assert.match(problemsOf(s3({ redirect: true, redirectEndpoint: bad })).join('\n'), /cache\.storage\.redirectEndpoint/, bad);
    }
  });

  it('refuses a redirect that is not a boolean, and redirect keys on disk storage', () => {
    assert.match(problemsOf(s3({ redirect: 'yes' })).join('\n'), /cache\.storage\.redirect\b/);
    assert.match(problemsOf({ cache: { storage: { type: 'disk', redirect: true } } }).join('\n'), /redirect/);
  });
});
