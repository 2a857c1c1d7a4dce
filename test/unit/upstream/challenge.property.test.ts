import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { formatChallenge, parseChallenges, type Challenge } from '../../../src/upstream/challenge.js';
import { anyString, propertyOptions } from '../../support/grammar-arbitraries.js';

// RFC 7230 §3.2.6 tchar, lower case (parsed names and schemes are lower-cased).
const tchar = fc.constantFrom(..."!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyz".split(''));
const token = fc.array(tchar, { minLength: 1, maxLength: 12 }).map((a) => a.join(''));
/** Values a registry may quote: anything but the CTLs a quoted-string cannot hold (formatChallenge drops them). */
const value = fc.string({ maxLength: 60, unit: 'grapheme' }).map((s) => s.replace(/[\x00-\x08\x0a-\x1f\x7f]/g, ''));
const challenge: fc.Arbitrary<Challenge> = fc
  .tuple(token, fc.uniqueArray(fc.tuple(token, value), { maxLength: 5, selector: ([name]) => name }))
  .map(([scheme, params]) => ({ scheme, params: Object.fromEntries(params) }));

/** Header text registries and attackers send: real-looking challenges glued to noise. */
const headerText = fc.oneof(
  anyString,
  fc
    .array(fc.oneof(challenge.map(formatChallenge), anyString, fc.constantFrom(',', ' ', '"', '\\', '=', '==', 'Bearer', 'realm=', '__proto__="x"')), { maxLength: 6 })
    .map((parts) => parts.join('')),
);

describe('WWW-Authenticate under arbitrary input', () => {
  it('parseChallenges never throws and yields lower-case token schemes and parameter names', () => {
    fc.assert(
      fc.property(fc.oneof(headerText, fc.array(headerText, { maxLength: 3 })), (header) => {
        for (const ch of parseChallenges(header)) {
          assert.match(ch.scheme, /^[!#$%&'*+\-.^_`|~0-9a-z]+$/);
          for (const [name, v] of Object.entries(ch.params)) {
            assert.match(name, /^[!#$%&'*+\-.^_`|~0-9a-z]+$/);
            assert.equal(typeof v, 'string');
          }
        }
      }),
      propertyOptions(4000),
    );
  });

  it('a __proto__ parameter never reaches Object.prototype', () => {
    fc.assert(
      fc.property(headerText, (text) => {
        parseChallenges(`Bearer __proto__="polluted",${text}`);
        assert.equal(({} as Record<string, unknown>).polluted, undefined);
        assert.equal(Object.getPrototypeOf({}), Object.prototype);
      }),
      propertyOptions(500),
    );
  });

  it('formatted challenges parse back to themselves, one per line or several on one line', () => {
    fc.assert(
      fc.property(fc.array(challenge, { minLength: 1, maxLength: 4 }), (challenges) => {
        const lines = challenges.map(formatChallenge);
        assert.deepEqual(parseChallenges(lines), challenges);
        for (const line of lines) assert.doesNotMatch(line, /[\r\n]/);
        // RFC 7235 §4.1: 1#challenge; a challenge without parameters cannot be followed by ones on the same line.
        if (challenges.every((c) => Object.keys(c.params).length > 0)) assert.deepEqual(parseChallenges(lines.join(', ')), challenges);
      }),
      propertyOptions(2000),
    );
  });
});
