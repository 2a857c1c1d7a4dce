import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { parseV2Path } from '../../../src/registry/paths.js';
import { digest, propertyOptions, repositoryName, tag, v2Path } from '../../support/grammar-arbitraries.js';
import { parsesOrRefuses } from '../../support/property-assertions.js';

describe('parseV2Path under arbitrary input', () => {
  it('returns a route, undefined outside /v2, or refuses with an OCI error', () => {
    fc.assert(
      fc.property(v2Path, (path) => {
        const r = parsesOrRefuses(() => parseV2Path(path));
        if ('value' in r && r.value === undefined) assert.ok(!path.startsWith('/v2/') && path !== '/v2', path);
      }),
      propertyOptions(5000),
    );
  });

  it('a route keeps the repository path as sent, a prefix of the request path', () => {
    fc.assert(
      fc.property(v2Path, (path) => {
        const r = parsesOrRefuses(() => parseV2Path(path));
        if (!('value' in r) || r.value === undefined || !('path' in r.value)) return;
        assert.ok(path.startsWith(`/v2/${r.value.path}/`), `${path} -> ${r.value.path}`);
      }),
      propertyOptions(3000),
    );
  });

  it('manifest, blob, tags and referrers paths built from the grammar parse back to their parts', () => {
    fc.assert(
      fc.property(repositoryName, fc.oneof(tag, digest), digest, (name, ref, d) => {
        assert.deepEqual(parseV2Path(`/v2/${name}/manifests/${ref}`), {
          kind: 'manifest',
          path: name,
          reference: ref.includes(':') ? { kind: 'digest', digest: ref } : { kind: 'tag', tag: ref },
        });
        assert.deepEqual(parseV2Path(`/v2/${name}/blobs/${d}`), { kind: 'blob', path: name, digest: d });
        assert.deepEqual(parseV2Path(`/v2/${name}/tags/list`), { kind: 'tags', path: name });
        assert.deepEqual(parseV2Path(`/v2/${name}/referrers/${d}`), { kind: 'referrers', path: name, digest: d });
      }),
      propertyOptions(1000),
    );
  });
});
