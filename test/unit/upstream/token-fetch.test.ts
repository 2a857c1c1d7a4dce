import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { RegistryError } from '../../../src/registry/errors.js';
import { minimumTokenLifetimeMs, parseTokenResponse } from '../../../src/upstream/token-fetch.js';

const now = Date.parse('2024-06-01T12:00:00Z');
/** Tokens are dropped 10 s before they expire (token-fetch.ts expirySkewMs). */
const skew = 10_000;
const iso = (ms: number): string => new Date(ms).toISOString();

describe('parseTokenResponse', () => {
  const table: [string, unknown, string, number][] = [
    ['reads token', { token: 't', expires_in: 300 }, 't', now + 300_000 - skew],
    ['reads access_token', { access_token: 'a', expires_in: 300 }, 'a', now + 300_000 - skew],
    ['prefers token over access_token', { token: 't', access_token: 'a', expires_in: 300 }, 't', now + 300_000 - skew],
    ['falls back to access_token when token is empty', { token: '', access_token: 'a', expires_in: 300 }, 'a', now + 300_000 - skew],
    ['a missing expires_in is 60 s', { token: 't' }, 't', now + 60_000 - skew],
    ['expires_in below 60 is raised to 60', { token: 't', expires_in: 30 }, 't', now + 60_000 - skew],
    ['expires_in 0 is raised to 60', { token: 't', expires_in: 0 }, 't', now + 60_000 - skew],
    ['a negative expires_in is raised to 60', { token: 't', expires_in: -100 }, 't', now + 60_000 - skew],
    ['a string expires_in is ignored', { token: 't', expires_in: '300' }, 't', now + 60_000 - skew],
    ['expires_in of exactly 60 is kept', { token: 't', expires_in: 60 }, 't', now + 60_000 - skew],
    ['a fractional expires_in is kept', { token: 't', expires_in: 90.5 }, 't', now + 90_500 - skew],
    ['issued_at near now counts from issued_at', { token: 't', expires_in: 300, issued_at: iso(now - 100_000) }, 't',
      now - 100_000 + 300_000 - skew],
    ['issued_at slightly ahead of now counts from issued_at', { token: 't', expires_in: 300, issued_at: iso(now + 60_000) }, 't',
      now + 60_000 + 300_000 - skew],
    ["Docker Hub's nanosecond issued_at is read", { token: 't', expires_in: 300, issued_at: '2024-06-01T11:59:30.10593176Z' }, 't',
      Date.parse('2024-06-01T11:59:30.105Z') + 300_000 - skew],
    ['issued_at an hour ago is ignored', { token: 't', expires_in: 300, issued_at: iso(now - 3_600_000) }, 't', now + 300_000 - skew],
    ['issued_at an hour ahead is ignored', { token: 't', expires_in: 300, issued_at: iso(now + 3_600_000) }, 't', now + 300_000 - skew],
    ['an unreadable issued_at is ignored', { token: 't', expires_in: 300, issued_at: 'yesterday' }, 't', now + 300_000 - skew],
    ['extra fields are ignored', { token: 't', expires_in: 300, refresh_token: 'r', scope: 'x' }, 't', now + 300_000 - skew],
  ];
  for (const [name, body, value, expiresAt] of table) {
    it(name, () => assert.deepEqual(parseTokenResponse(JSON.stringify(body), now), { value, expiresAt }));
  }

  it('the minimum lifetime is 60 s', () => assert.equal(minimumTokenLifetimeMs, 60_000));

  const invalid: [string, string, RegExp][] = [
    ['invalid JSON is UPSTREAM_INVALID', '<html>502 Bad Gateway</html>', /invalid JSON/],
    ['an empty body is UPSTREAM_INVALID', '', /invalid JSON/],
    ['no token is UPSTREAM_INVALID', '{"expires_in":300}', /no token/],
    ['empty tokens are UPSTREAM_INVALID', '{"token":"","access_token":""}', /no token/],
    ['a numeric token is UPSTREAM_INVALID', '{"token":12345}', /no token/],
    ['a JSON string is UPSTREAM_INVALID', '"token"', /no token/],
    ['a JSON array is UPSTREAM_INVALID', '[]', /no token/],
    ['JSON null is UPSTREAM_INVALID', 'null', /./],
  ];
  for (const [name, text, message] of invalid) {
    it(name, () => {
      assert.throws(() => parseTokenResponse(text, now), (err: unknown) => {
        assert.ok(err instanceof RegistryError, `expected a RegistryError, got ${String(err)}`);
        assert.equal(err.code, 'UPSTREAM_INVALID');
        assert.equal(err.status, 502);
        assert.match(err.message, message);
        return true;
      });
    });
  }
});
