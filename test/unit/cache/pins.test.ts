import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { matchesPin, parsePin, PinError, type PinSubject } from '../../../src/cache/pins.js';

const nginx = (tag?: string): PinSubject => ({ upstream: 'hub', repository: 'library/nginx', ...(tag ? { tag } : {}) });

const matches: Array<[string, string, PinSubject, boolean]> = [
  ['a repository pattern covers every tag of every repository under it', 'hub/library/*', nginx('1.27'), true],
  ['a repository pattern covers content pulled by digest', 'hub/library/*', nginx(), true],
  ['a repository pattern does not cross upstreams', 'hub/library/*', { upstream: 'gcr', repository: 'library/nginx' }, false],
  ['a repository pattern does not cover a sibling namespace', 'hub/library/*', { upstream: 'hub', repository: 'bitnami/nginx' }, false],
  ['`*` crosses slashes', 'hub/*', { upstream: 'hub', repository: 'a/b/c' }, true],
  ['an exact tag matches that tag', 'gcr/distroless/base:latest', { upstream: 'gcr', repository: 'distroless/base', tag: 'latest' }, true],
  ['an exact tag does not match another tag', 'gcr/distroless/base:latest', { upstream: 'gcr', repository: 'distroless/base', tag: 'nonroot' }, false],
  ['a tagged pin does not cover a pull by digest', 'gcr/distroless/base:latest', { upstream: 'gcr', repository: 'distroless/base' }, false],
  ['an exact repository is not a prefix', 'hub/library/nginx', { upstream: 'hub', repository: 'library/nginx-extra' }, false],
  ['a tag wildcard', 'hub/library/nginx:1.*', nginx('1.27.0'), true],
  ['a dot in a tag is literal', 'hub/library/nginx:1.2', nginx('1x2'), false],
  ['an upstream wildcard', '*/library/nginx', { upstream: 'mirror-2', repository: 'library/nginx' }, true],
];

describe('matchesPin', () => {
  for (const [name, pattern, subject, expected] of matches) {
    it(name, () => assert.equal(matchesPin(parsePin(pattern), subject), expected));
  }
});

describe('parsePin', () => {
  it('keeps the pattern as written', () => assert.equal(parsePin('hub/library/*').source, 'hub/library/*'));

  it('reads a tag after the last colon', () => {
    const pin = parsePin('quay/coreos/etcd:v3.5.0');
    assert.ok(pin.tag?.test('v3.5.0'));
    assert.ok(pin.repository.test('coreos/etcd'));
  });

  const invalid: Array<[string, string]> = [
    ['no repository', 'hub'],
    ['an empty upstream', '/library/nginx'],
    ['an empty repository', 'hub/'],
    ['an empty tag', 'hub/library/nginx:'],
    ['upper case in the repository', 'hub/Library/nginx'],
    ['a digest reference', 'hub/library/nginx@sha256:abc'],
    ['whitespace', 'hub/library/ nginx'],
    ['a path traversal', 'hub/../etc'],
  ];
  for (const [name, pattern] of invalid) {
    it(`refuses ${name}`, () =>
      assert.throws(() => parsePin(pattern), (err: unknown) => err instanceof PinError && err.code === 'PIN_INVALID'));
  }
});
