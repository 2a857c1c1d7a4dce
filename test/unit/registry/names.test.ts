import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { RegistryError, type ErrorCode } from '../../../src/registry/errors.js';
import {
  isRepositoryName,
  isTag,
  maxNameLength,
  parseReference,
  parseRepositoryName,
  referenceString,
  type Reference,
} from '../../../src/registry/names.js';

const sha256 = `sha256:${'a'.repeat(64)}`;

function throwsCode(fn: () => unknown, code: ErrorCode): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof RegistryError, `expected a RegistryError, got ${String(err)}`);
    assert.equal(err.code, code);
    return true;
  });
}

describe('repository names', () => {
  const valid: [string, string][] = [
    ['a single component is a name', 'nginx'],
    ['a single character is a name', 'a'],
    ['a namespaced name is a name', 'library/nginx'],
    ['a multi-segment name with a dotted first component is a name', 'gcr.io/distroless/base'],
    ['digits are allowed anywhere', '0/1a/2b3'],
    ['a dot separates', 'my.app'],
    ['a single underscore separates', 'my_app'],
    ['a double underscore separates', 'my__app'],
    ['a dash separates', 'my-app'],
    ['several dashes separate', 'my---app'],
    ['separators may repeat between alphanumerics', 'a.b_c__d-e--f'],
    [`a name of exactly ${maxNameLength} characters is a name`, 'a'.repeat(maxNameLength)],
  ];
  for (const [name, input] of valid) {
    it(name, () => {
      assert.equal(isRepositoryName(input), true);
      assert.equal(parseRepositoryName(input), input);
    });
  }

  const invalid: [string, string][] = [
    ['an empty string is not a name', ''],
    ['a double dot is not a separator', 'a..b'],
    ['a dot-dot component is refused', 'library/../etc'],
    ['a bare dot-dot is refused', '..'],
    ['a single dot component is refused', 'a/./b'],
    ['percent-encoded dot-dot is refused', '%2e%2e'],
    ['a percent-encoded slash is refused', 'library%2Fnginx'],
    ['upper case is refused', 'Library/nginx'],
    ['upper case in a later component is refused', 'library/Nginx'],
    ['an empty component in the middle is refused', 'library//nginx'],
    ['a leading slash is refused', '/nginx'],
    ['a trailing slash is refused', 'nginx/'],
    ['three underscores are not a separator', 'a___b'],
    ['a dot followed by an underscore is not a separator', 'a._b'],
    ['a dash and a dot together are not a separator', 'a-.b'],
    ['a leading separator is refused', '-nginx'],
    ['a trailing separator is refused', 'nginx.'],
    ['a leading underscore is refused', '_nginx'],
    ['a colon is refused', 'localhost:5000/foo'],
    ['a plus is refused', 'a+b'],
    ['whitespace is refused', 'a b'],
    [`a name of ${maxNameLength + 1} characters is refused`, 'a'.repeat(maxNameLength + 1)],
    ['a long multi-segment name over the limit is refused', Array.from({ length: 70 }, () => 'abc').join('/')],
  ];
  for (const [name, input] of invalid) {
    it(name, () => {
      assert.equal(isRepositoryName(input), false);
      throwsCode(() => parseRepositoryName(input), 'NAME_INVALID');
    });
  }

  it('an over-long name is refused with a message naming the limit', () => {
    assert.throws(() => parseRepositoryName('a'.repeat(256)), /longer than 255 characters/);
  });

  it('an invalid name carries the name in the error detail', () => {
    assert.throws(() => parseRepositoryName('A'), (err: unknown) => {
      assert.ok(err instanceof RegistryError);
      assert.deepEqual(err.detail, { name: 'A' });
      return true;
    });
  });
});

describe('tags', () => {
  const table: [string, string, boolean][] = [
    ['a plain word is a tag', 'latest', true],
    ['a version with dots and dashes is a tag', 'v1.2.3-alpine3.19', true],
    ['a tag may start with an underscore', '_internal', true],
    ['upper case is allowed in a tag', 'RC1', true],
    ['a single character is a tag', 'a', true],
    ['a tag of 128 characters is a tag', 'a'.repeat(128), true],
    ['a tag of 129 characters is refused', 'a'.repeat(129), false],
    ['an empty tag is refused', '', false],
    ['a tag cannot start with a dot', '.hidden', false],
    ['a tag cannot start with a dash', '-rc', false],
    ['a slash is refused in a tag', 'a/b', false],
    ['a plus is refused in a tag', '1.0+build', false],
    ['a percent is refused in a tag', '%2e%2e', false],
    ['a colon is refused in a tag', 'a:b', false],
  ];
  for (const [name, input, expected] of table) it(name, () => assert.equal(isTag(input), expected));
});

describe('parseReference', () => {
  const table: [string, string, Reference][] = [
    ['a tag is a tag reference', 'latest', { kind: 'tag', tag: 'latest' }],
    ['a 128-character tag is a tag reference', 'x'.repeat(128), { kind: 'tag', tag: 'x'.repeat(128) }],
    ['a sha256 digest is a digest reference', sha256, { kind: 'digest', digest: sha256 as never }],
    ['a sha512 digest is a digest reference', `sha512:${'0'.repeat(128)}`, { kind: 'digest', digest: `sha512:${'0'.repeat(128)}` as never }],
  ];
  for (const [name, input, expected] of table) {
    it(name, () => {
      assert.deepEqual(parseReference(input), expected);
      assert.equal(referenceString(parseReference(input)), input);
    });
  }

  const refused: [string, string, ErrorCode][] = [
    ['a short digest is DIGEST_INVALID', 'sha256:abc', 'DIGEST_INVALID'],
    ['an unknown digest algorithm is DIGEST_INVALID', `md5:${'a'.repeat(32)}`, 'DIGEST_INVALID'],
    ['anything with a colon that is not digest-shaped is DIGEST_INVALID', 'a:b:c', 'DIGEST_INVALID'],
    ['an upper-case digest is DIGEST_INVALID', `sha256:${'A'.repeat(64)}`, 'DIGEST_INVALID'],
    ['a tag starting with a dot is TAG_INVALID', '.latest', 'TAG_INVALID'],
    ['a 129-character tag is TAG_INVALID', 'x'.repeat(129), 'TAG_INVALID'],
    ['an empty reference is TAG_INVALID', '', 'TAG_INVALID'],
    ['a percent-encoded reference is TAG_INVALID', 'sha256%3Aabc', 'TAG_INVALID'],
  ];
  for (const [name, input, code] of refused) it(name, () => throwsCode(() => parseReference(input), code));
});
