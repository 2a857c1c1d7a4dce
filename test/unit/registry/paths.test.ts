import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { RegistryError, type ErrorCode } from '../../../src/registry/errors.js';
import { parseV2Path, type V2Route } from '../../../src/registry/paths.js';

const digest = `sha256:${'0123456789abcdef'.repeat(4)}`;
const d = digest as never;

describe('parseV2Path', () => {
  const routes: [string, string, V2Route][] = [
    ['/v2/ is the base endpoint', '/v2/', { kind: 'base' }],
    ['/v2 without a slash is the base endpoint', '/v2', { kind: 'base' }],
    ['/v2/_catalog is the catalog', '/v2/_catalog', { kind: 'catalog' }],
    ['a manifest by tag', '/v2/library/nginx/manifests/latest',
      { kind: 'manifest', path: 'library/nginx', reference: { kind: 'tag', tag: 'latest' } }],
    ['a manifest by digest', `/v2/library/nginx/manifests/${digest}`,
      { kind: 'manifest', path: 'library/nginx', reference: { kind: 'digest', digest: d } }],
    ['a manifest of a single-segment name', '/v2/nginx/manifests/1.25',
      { kind: 'manifest', path: 'nginx', reference: { kind: 'tag', tag: '1.25' } }],
    ['a manifest of a multi-segment name with a registry prefix', '/v2/gcr.io/distroless/base/manifests/latest',
      { kind: 'manifest', path: 'gcr.io/distroless/base', reference: { kind: 'tag', tag: 'latest' } }],
    ['a manifest of a registry with a port prefix', '/v2/registry.corp.test:5000/team/app/manifests/v1',
      { kind: 'manifest', path: 'registry.corp.test:5000/team/app', reference: { kind: 'tag', tag: 'v1' } }],
    ['a blob', `/v2/library/nginx/blobs/${digest}`, { kind: 'blob', path: 'library/nginx', digest: d }],
    ['a blob of a multi-segment name', `/v2/gcr.io/distroless/base/blobs/${digest}`,
      { kind: 'blob', path: 'gcr.io/distroless/base', digest: d }],
    ['starting a blob upload', '/v2/library/nginx/blobs/uploads/', { kind: 'upload', path: 'library/nginx' }],
    ['starting a blob upload without the trailing slash', '/v2/library/nginx/blobs/uploads', { kind: 'upload', path: 'library/nginx' }],
    ['continuing a blob upload', '/v2/library/nginx/blobs/uploads/0b8c1f2e-7d6a-4c1b-9e3f-2a1b0c9d8e7f',
      { kind: 'upload', path: 'library/nginx' }],
    ['listing tags', '/v2/library/nginx/tags/list', { kind: 'tags', path: 'library/nginx' }],
    ['listing tags of a multi-segment name', '/v2/gcr.io/distroless/base/tags/list', { kind: 'tags', path: 'gcr.io/distroless/base' }],
    ['listing referrers', `/v2/library/nginx/referrers/${digest}`, { kind: 'referrers', path: 'library/nginx', digest: d }],
    ['a repository named like an endpoint keeps its full path', '/v2/manifests/manifests/latest',
      { kind: 'manifest', path: 'manifests', reference: { kind: 'tag', tag: 'latest' } }],
    ['the path is passed on undecoded for the router to validate', '/v2/library%2Fnginx/manifests/latest',
      { kind: 'manifest', path: 'library%2Fnginx', reference: { kind: 'tag', tag: 'latest' } }],
  ];
  for (const [name, input, expected] of routes) it(name, () => assert.deepEqual(parseV2Path(input), expected));

  const outside: [string, string][] = [
    ['the root is not a /v2 path', '/'],
    ['the token endpoint is not a /v2 path', '/token/gcr'],
    ['/v3/ is not a /v2 path', '/v3/'],
    ['/v20/ is not a /v2 path', '/v20/library/nginx/manifests/latest'],
    ['/v2x is not a /v2 path', '/v2x'],
    ['an empty path is not a /v2 path', ''],
  ];
  for (const [name, input] of outside) it(name, () => assert.equal(parseV2Path(input), undefined));

  const refused: [string, string, ErrorCode][] = [
    ['an unknown endpoint is NOT_FOUND', '/v2/library/nginx/foo', 'NOT_FOUND'],
    ['a bare repository is NOT_FOUND', '/v2/library/nginx', 'NOT_FOUND'],
    ['a manifest without a reference is NOT_FOUND', '/v2/library/nginx/manifests/', 'NOT_FOUND'],
    ['a manifest without a repository is NOT_FOUND', '/v2/manifests/latest', 'NOT_FOUND'],
    ['a blob without a digest is NOT_FOUND', '/v2/library/nginx/blobs/', 'NOT_FOUND'],
    ['below the catalog is NOT_FOUND', '/v2/_catalog/x', 'NOT_FOUND'],
    ['tags without list is NOT_FOUND', '/v2/library/nginx/tags/', 'NOT_FOUND'],
    ['a blob with an invalid digest is DIGEST_INVALID', '/v2/library/nginx/blobs/sha256:abc', 'DIGEST_INVALID'],
    ['a blob with a tag instead of a digest is DIGEST_INVALID', '/v2/library/nginx/blobs/latest', 'DIGEST_INVALID'],
    ['a manifest with an invalid digest is DIGEST_INVALID', '/v2/library/nginx/manifests/sha256:abc', 'DIGEST_INVALID'],
    ['referrers with an invalid digest is DIGEST_INVALID', '/v2/library/nginx/referrers/sha256:xyz', 'DIGEST_INVALID'],
    ['a manifest with an invalid tag is TAG_INVALID', '/v2/library/nginx/manifests/.latest', 'TAG_INVALID'],
  ];
  for (const [name, input, code] of refused) {
    it(name, () => {
      assert.throws(() => parseV2Path(input), (err: unknown) => {
        assert.ok(err instanceof RegistryError, `expected a RegistryError, got ${String(err)}`);
        assert.equal(err.code, code);
        return true;
      });
    });
  }
});
