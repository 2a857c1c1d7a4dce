import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { CatalogKeys } from '../../../src/catalog/catalog-keys.js';
import { decodeTagRecord, encodeTagRecord } from '../../../src/catalog/tag-record.js';
import type { Digest } from '../../../src/registry/digest.js';

const keys = new CatalogKeys('pg/');
const digest = `sha256:${'ab'.repeat(32)}` as Digest;

describe('the catalog key layout in the bucket', () => {
  it('puts a manifest under manifests/<algorithm>/<two hex>/<hex> and reads the digest back', () => {
    const key = keys.manifest(digest);
    assert.equal(key, `pg/manifests/sha256/ab/${'ab'.repeat(32)}`);
    assert.equal(keys.manifestOf(key), digest);
  });

  for (const [name, t] of [
    ['a Docker Hub library image', { upstream: 'hub', repository: 'library/alpine', tag: '3.20' }],
    ['a repository with many slashes', { upstream: 'gcr', repository: 'a/b/c/d', tag: 'v1' }],
    ['a tag starting with an underscore', { upstream: 'hub', repository: 'team/app', tag: '_tags' }],
    ['a repository component that ends in _tags', { upstream: 'hub', repository: 'team/my_tags', tag: 'latest' }],
  ] as const) {
    it(`round-trips the tag key of ${name}`, () => {
      const key = keys.tag(t);
      assert.ok(key.startsWith('pg/tags/'));
      assert.deepEqual(keys.tagOf(key), t);
    });
  }

  it('puts a link record under links/<upstream>/<repository>/_blobs|_manifests/<algorithm>/<hex>', () => {
    assert.equal(keys.link('blob', digest, 'hub', 'library/alpine'), `pg/links/hub/library/alpine/_blobs/sha256/${'ab'.repeat(32)}`);
    assert.equal(keys.link('manifest', digest, 'hub', 'team/app'), `pg/links/hub/team/app/_manifests/sha256/${'ab'.repeat(32)}`);
    // A nested repository's records never fall under another repository's kind folder.
    assert.ok(!keys.link('blob', digest, 'hub', 'team/app/more').startsWith('pg/links/hub/team/app/_blobs/'));
  });

  for (const [why, upstream, repository, d] of [
    ['an upstream name with a slash', 'hub/x', 'library/alpine', digest],
    ['a repository with dot segments', 'hub', 'library/../secret', digest],
    ['a digest that is not one', 'hub', 'library/alpine', 'sha256:../../x' as Digest],
  ] as const) {
    it(`refuses a link key for ${why}`, () => {
      assert.throws(() => keys.link('blob', d, upstream, repository));
    });
  }

  it("lists one repository's tags without those of a repository nested under it", () => {
    const listing = keys.repositoryTags('hub', 'team/app');
    assert.ok(keys.tag({ upstream: 'hub', repository: 'team/app', tag: 'v1' }).startsWith(listing));
    assert.ok(!keys.tag({ upstream: 'hub', repository: 'team/app/more', tag: 'v1' }).startsWith(listing));
  });

  for (const [why, key] of [
    ['outside the prefix', 'other/tags/hub/library/alpine/_tags/3.20'],
    ['without the _tags marker', 'pg/tags/hub/library/alpine/3.20'],
    ['with two _tags markers', 'pg/tags/hub/a/_tags/b/_tags/c'],
    ['with a slash in the tag', 'pg/tags/hub/library/alpine/_tags/a/b'],
    ['with an upper-case repository', 'pg/tags/hub/Library/alpine/_tags/3.20'],
    ['with a dot-dot repository', 'pg/tags/hub/../alpine/_tags/3.20'],
    ['with an invalid upstream name', 'pg/tags/Hub!/library/alpine/_tags/3.20'],
  ] as const) {
    it(`ignores a tag key ${why}`, () => assert.equal(keys.tagOf(key), undefined));
  }

  for (const [why, key] of [
    ['with a wrong fan-out', `pg/manifests/sha256/cd/${'ab'.repeat(32)}`],
    ['of an unknown algorithm', `pg/manifests/md5/ab/${'ab'.repeat(16)}`],
    ['with a short hex', 'pg/manifests/sha256/ab/abab'],
    ['nested deeper', `pg/manifests/sha256/ab/${'ab'.repeat(32)}/x`],
  ] as const) {
    it(`ignores a manifest key ${why}`, () => assert.equal(keys.manifestOf(key), undefined));
  }

  it('refuses to build a key from a name outside the grammars', () => {
    assert.throws(() => keys.tag({ upstream: 'hub', repository: '../etc', tag: 'x' }));
    assert.throws(() => keys.tag({ upstream: 'hub', repository: 'a', tag: 'a/b' }));
    assert.throws(() => keys.manifest('sha256:../../x' as Digest));
    assert.throws(() => keys.replica('../x'));
  });
});

describe('a tag record', () => {
  it('round-trips digest, validation time and replica', () => {
    const record = { digest, validatedAt: 1_700_000_000_000, replica: 'node-1-abcd' };
    assert.deepEqual(decodeTagRecord(encodeTagRecord(record)), record);
  });

  for (const [why, body] of [
    ['not JSON', 'nope'],
    ['without a digest', '{"validatedAt":1}'],
    ['with a malformed digest', '{"digest":"sha256:xyz","validatedAt":1}'],
    ['with a negative time', `{"digest":"${digest}","validatedAt":-1}`],
    ['with a time that is a string', `{"digest":"${digest}","validatedAt":"1"}`],
    ['a JSON array', '[]'],
  ] as const) {
    it(`is ignored when ${why}`, () => assert.equal(decodeTagRecord(Buffer.from(body)), undefined));
  }
});
