import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { parseTarget, redactedUrl } from '../../../src/server/request-target.js';
import { anyString, propertyOptions, v2Path } from '../../support/grammar-arbitraries.js';
import { parsesOrRefuses } from '../../support/property-assertions.js';

const queryPart = fc.oneof(
  anyString,
  fc.tuple(fc.constantFrom('ns', 'n', 'last', 'ns[]', 'NS', 'artifactType', 'token'), anyString).map(([k, v]) => `${k}=${v}`),
  fc.tuple(fc.constantFrom('docker.io', 'gcr.io', 'registry.test%3A5000', '%zz', '%00', '..%2f..'), fc.boolean()).map(([v]) => `ns=${v}`),
);
const rawUrl = fc
  .tuple(v2Path, fc.option(fc.array(queryPart, { maxLength: 4 }).map((parts) => parts.join('&'))))
  .map(([path, query]) => (query === null ? path : `${path}?${query}`));

describe('the request target under arbitrary input', () => {
  it('parseTarget keeps the raw path, reads ns only when it is a plausible registry, and refuses with an OCI error', () => {
    fc.assert(
      fc.property(rawUrl, (url) => {
        const r = parsesOrRefuses(() => parseTarget(url));
        if ('error' in r) return assert.ok(['REQUEST_INVALID', 'NAME_UNKNOWN'].includes(r.error.code), r.error.code);
        assert.ok(url.startsWith(r.value.path) && !r.value.path.includes('?'));
        if (r.value.ns !== undefined) assert.match(r.value.ns, /^[a-z0-9.:[\]-]{1,255}$/i);
      }),
      propertyOptions(4000),
    );
  });

  it('redactedUrl never throws and never shows the value of a credential-like parameter', () => {
    const secret = fc.stringMatching(/^[A-Za-z0-9]{12,24}$/).map((s) => `S3cret${s}`);
    const key = fc.constantFrom('token', 'access_token', 'password', 'X-Amz-Signature', 'sig', 'client_secret', 'api_key', 'code', 'Auth');
    fc.assert(
      fc.property(v2Path, fc.array(queryPart, { maxLength: 3 }), key, secret, (path, parts, k, s) => {
        const url = `${path.replace(/[?#]/g, '')}?${[...parts, `${k}=${s}`].join('&')}`;
        const out = redactedUrl(url);
        assert.ok(!out.includes(s), `${k}=${s} leaked into ${out}`);
        redactedUrl(`${path}?${parts.join('&')}`);
      }),
      propertyOptions(2000),
    );
  });
});
