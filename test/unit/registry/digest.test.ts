import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { RegistryError } from '../../../src/registry/errors.js';
import { digestAlgorithm, digestHex, isDigestLike, parseDigest } from '../../../src/registry/digest.js';

const hex256 = createHash('sha256').update('hello').digest('hex');
const hex512 = createHash('sha512').update('hello').digest('hex');

describe('parseDigest', () => {
  const valid: [string, string, 'sha256' | 'sha512', string][] = [
    ['a sha256 digest is valid', `sha256:${hex256}`, 'sha256', hex256],
    ['a sha512 digest is valid', `sha512:${hex512}`, 'sha512', hex512],
    ['the empty blob digest is valid', 'sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855', 'sha256',
      'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855'],
  ];
  for (const [name, input, algorithm, hex] of valid) {
    it(name, () => {
      const digest = parseDigest(input);
      assert.equal(digest, input);
      assert.equal(digestAlgorithm(digest), algorithm);
      assert.equal(digestHex(digest), hex);
    });
  }

  const invalid: [string, string, RegExp][] = [
    ['an unknown algorithm is refused', `md5:${'a'.repeat(32)}`, /unsupported digest algorithm md5/],
    ['a well-formed but unverifiable algorithm is refused', `sha256+b64u:${'a'.repeat(43)}`, /unsupported digest algorithm/],
    ['a sha256 digest with 63 hex characters is refused', `sha256:${hex256.slice(1)}`, /invalid digest encoding/],
    ['a sha256 digest with 65 hex characters is refused', `sha256:${hex256}0`, /invalid digest encoding/],
    ['a sha256 digest with 128 hex characters is refused', `sha256:${hex512}`, /invalid digest encoding/],
    ['a sha512 digest with 64 hex characters is refused', `sha512:${hex256}`, /invalid digest encoding/],
    ['upper-case hex is refused', `sha256:${hex256.toUpperCase()}`, /invalid digest encoding/],
    ['non-hex characters of the right length are refused', `sha256:${'g'.repeat(64)}`, /invalid digest encoding/],
    ['an upper-case algorithm is refused', `SHA256:${hex256}`, /invalid digest/],
    ['a missing algorithm is refused', `:${hex256}`, /invalid digest/],
    ['a missing encoding is refused', 'sha256:', /invalid digest/],
    ['a bare algorithm is refused', 'sha256', /invalid digest/],
    ['an empty string is refused', '', /invalid digest/],
    ['garbage is refused', 'not a digest', /invalid digest/],
    ['a second colon is refused', `sha256:${hex256}:x`, /invalid digest/],
    ['a percent-encoded colon is refused', `sha256%3A${hex256}`, /invalid digest/],
  ];
  for (const [name, input, message] of invalid) {
    it(name, () => {
      assert.throws(() => parseDigest(input), (err: unknown) => {
        assert.ok(err instanceof RegistryError, `expected a RegistryError, got ${String(err)}`);
        assert.equal(err.code, 'DIGEST_INVALID');
        assert.equal(err.status, 400);
        assert.match(err.message, message);
        assert.deepEqual(err.detail, { digest: input });
        return true;
      });
    });
  }
});

describe('isDigestLike', () => {
  const table: [string, string, boolean][] = [
    ['a sha256 digest looks like a digest', `sha256:${hex256}`, true],
    ['an unknown algorithm still looks like a digest', 'md5:abc', true],
    ['an algorithm with separators looks like a digest', 'sha256+b64u:LCa0a2j_xo_5m0U8HTBBNBNCLXBkg7-g-YpeiGJm564', true],
    ['a tag does not look like a digest', 'latest', false],
    ['a host:port does not look like a digest', 'a:b:c', false],
    ['an empty encoding does not look like a digest', 'sha256:', false],
  ];
  for (const [name, input, expected] of table) it(name, () => assert.equal(isDigestLike(input), expected));
});
