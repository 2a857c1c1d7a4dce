import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { RegistryError, type ErrorCode } from '../../../src/registry/errors.js';
import { parseTarget, redactedUrl } from '../../../src/server/request-target.js';

function throwsCode(fn: () => unknown, code: ErrorCode): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof RegistryError, `expected a RegistryError, got ${String(err)}`);
    assert.equal(err.code, code);
    return true;
  });
}

describe('parseTarget', () => {
  const table: [string, string | undefined, string, string | undefined][] = [
    ['a path without a query has no ns', '/v2/library/nginx/manifests/latest', '/v2/library/nginx/manifests/latest', undefined],
    ["containerd's ns for Docker Hub is read", '/v2/library/redis/manifests/latest?ns=docker.io', '/v2/library/redis/manifests/latest', 'docker.io'],
    ['a percent-encoded colon in ns is decoded', '/v2/team/app/manifests/v1?ns=registry.corp.test%3A5000', '/v2/team/app/manifests/v1',
      'registry.corp.test:5000'],
    ['a literal colon in ns is read', '/v2/team/app/blobs/x?ns=registry.corp.test:5000', '/v2/team/app/blobs/x', 'registry.corp.test:5000'],
    ['a bracketed IPv6 ns is read', '/v2/a/manifests/b?ns=%5B%3A%3A1%5D%3A5000', '/v2/a/manifests/b', '[::1]:5000'],
    ['ns among other parameters is read', '/v2/a/tags/list?n=10&ns=gcr.io&last=b', '/v2/a/tags/list', 'gcr.io'],
    ['the path is never decoded', '/v2/library%2Fnginx/manifests/latest?ns=docker.io', '/v2/library%2Fnginx/manifests/latest', 'docker.io'],
    ['an empty query has no ns', '/v2/?', '/v2/', undefined],
    ['no URL is the root', undefined, '/', undefined],
  ];
  for (const [name, url, path, ns] of table) {
    it(name, () => {
      const target = parseTarget(url);
      assert.equal(target.path, path);
      assert.equal(target.ns, ns);
    });
  }

  it('keeps the other query parameters', () => {
    const { query } = parseTarget('/v2/a/tags/list?n=10&last=v1.2&ns=gcr.io');
    assert.equal(query.get('n'), '10');
    assert.equal(query.get('last'), 'v1.2');
  });

  it('two ns parameters are refused', () => throwsCode(() => parseTarget('/v2/a/manifests/b?ns=docker.io&ns=gcr.io'), 'REQUEST_INVALID'));

  it('two identical ns parameters are refused too', () =>
    throwsCode(() => parseTarget('/v2/a/manifests/b?ns=docker.io&ns=docker.io'), 'REQUEST_INVALID'));

  const badNs: [string, string][] = [
    ['an empty ns is NAME_UNKNOWN', '?ns='],
    ['an ns with a path is NAME_UNKNOWN', '?ns=gcr.io%2Fevil'],
    ['an ns with a scheme is NAME_UNKNOWN', '?ns=https%3A%2F%2Fgcr.io'],
    ['an ns with a user is NAME_UNKNOWN', '?ns=user%40gcr.io'],
    ['an ns with a space is NAME_UNKNOWN', '?ns=gcr.io%20x'],
    ['an ns over 255 characters is NAME_UNKNOWN', `?ns=${'a'.repeat(256)}`],
  ];
  for (const [name, query] of badNs) it(name, () => throwsCode(() => parseTarget(`/v2/a/manifests/b${query}`), 'NAME_UNKNOWN'));
});

describe('redactedUrl', () => {
  const query = (url: string): URLSearchParams => new URLSearchParams(url.slice(url.indexOf('?') + 1));

  it('a URL without a query is unchanged', () => assert.equal(redactedUrl('/v2/library/nginx/manifests/latest'), '/v2/library/nginx/manifests/latest'));

  it('no URL is the root', () => assert.equal(redactedUrl(undefined), '/'));

  it('keeps the path', () => assert.ok(redactedUrl('/token/hub?password=x').startsWith('/token/hub?')));

  const hidden = [
    'token',
    'access_token',
    'refresh_token',
    'password',
    'client_secret',
    'X-Amz-Signature',
    'X-Amz-Credential',
    'sig',
    'code',
    'api_key',
    'Authorization',
  ];
  for (const key of hidden) {
    it(`hides the value of ${key}`, () => {
      const out = redactedUrl(`/v2/a/blobs/b?${key}=hunter2&n=1`);
      assert.equal(query(out).get(key), '[redacted]');
      assert.ok(!out.includes('hunter2'));
    });
  }

  const kept: [string, string][] = [
    ['scope', 'repository:library/nginx:pull'],
    ['service', 'registry.docker.io'],
    ['n', '100'],
    ['last', 'v1.2.3'],
    ['ns', 'registry.corp.test:5000'],
    ['account', 'robot'],
    ['artifactType', 'application/vnd.dev.sigstore.bundle.v0.3+json'],
  ];
  for (const [key, value] of kept) {
    it(`keeps the value of ${key}`, () => {
      const out = redactedUrl(`/token/hub?${key}=${encodeURIComponent(value)}&password=x`);
      assert.equal(query(out).get(key), value);
    });
  }

  it('hides every repeated credential value and keeps every repeated scope', () => {
    const out = redactedUrl('/token/hub?scope=repository:a:pull&token=one&scope=repository:b:pull&token=two');
    assert.deepEqual(query(out).getAll('scope'), ['repository:a:pull', 'repository:b:pull']);
    assert.deepEqual(query(out).getAll('token'), ['[redacted]']);
    assert.ok(!out.includes('one') && !out.includes('two'));
  });
});
