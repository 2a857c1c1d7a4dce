import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { digestAlgorithm, digestHex, isDigestLike, parseDigest } from '../../../src/registry/digest.js';
import { isRepositoryName, isTag, parseReference, parseRepositoryName, referenceString } from '../../../src/registry/names.js';
import { anyString, digest, propertyOptions, repositoryName, tag } from '../../support/grammar-arbitraries.js';
import { parsesOrRefuses } from '../../support/property-assertions.js';

describe('repository names, references and digests under arbitrary input', () => {
  it('parseRepositoryName accepts exactly what isRepositoryName accepts, and refuses with NAME_INVALID', () => {
    fc.assert(
      fc.property(anyString, (s) => {
        const r = parsesOrRefuses(() => parseRepositoryName(s));
        assert.equal('value' in r, isRepositoryName(s));
        if ('error' in r) assert.equal(r.error.code, 'NAME_INVALID');
      }),
      propertyOptions(3000),
    );
  });

  it('an accepted name is safe as a path: no empty, dot or dot-dot component, no %, \\ or upper case', () => {
    fc.assert(
      fc.property(fc.oneof(anyString, repositoryName), (s) => {
        if (!isRepositoryName(s)) return;
        for (const part of s.split('/')) assert.ok(part !== '' && part !== '.' && part !== '..', `component ${JSON.stringify(part)} in ${s}`);
        assert.doesNotMatch(s, /[%\\A-Z\s\0]/);
      }),
      propertyOptions(3000),
    );
  });

  it('every name generated from the grammar is accepted unchanged', () => {
    fc.assert(fc.property(repositoryName, (name) => assert.equal(parseRepositoryName(name), name)), propertyOptions(1000));
  });

  it('parseReference refuses with TAG_INVALID or DIGEST_INVALID only', () => {
    fc.assert(
      fc.property(anyString, (s) => {
        const r = parsesOrRefuses(() => parseReference(s));
        if ('error' in r) assert.ok(['TAG_INVALID', 'DIGEST_INVALID'].includes(r.error.code), r.error.code);
        else assert.equal(referenceString(r.value), s);
      }),
      propertyOptions(3000),
    );
  });

  it('tags and digests generated from the grammar round-trip through parseReference', () => {
    fc.assert(
      fc.property(fc.oneof(tag, digest), (ref) => {
        const parsed = parseReference(ref);
        assert.equal(parsed.kind, ref.includes(':') ? 'digest' : 'tag');
        assert.equal(referenceString(parsed), ref);
        if (parsed.kind === 'tag') assert.ok(isTag(ref));
      }),
      propertyOptions(1000),
    );
  });

  it('parseDigest refuses with DIGEST_INVALID; an accepted digest is a known algorithm and lower-case hex', () => {
    fc.assert(
      fc.property(fc.oneof(anyString, digest.map((d) => d.toUpperCase()), digest.map((d) => d.slice(0, -1))), (s) => {
        const r = parsesOrRefuses(() => parseDigest(s));
        if ('error' in r) {
          assert.equal(r.error.code, 'DIGEST_INVALID');
          return;
        }
        assert.ok(isDigestLike(s));
        const hex = digestHex(r.value);
        assert.match(hex, digestAlgorithm(r.value) === 'sha256' ? /^[0-9a-f]{64}$/ : /^[0-9a-f]{128}$/);
        assert.equal(`${digestAlgorithm(r.value)}:${hex}`, s);
      }),
      propertyOptions(3000),
    );
  });
});
