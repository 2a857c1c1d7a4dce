import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { realpath } from 'node:fs/promises';
import { resolve, sep } from 'node:path';
import fc from 'fast-check';
import { BlobSpanError, DiskBlobStore } from '../../../src/cache/disk-blob-store.js';
import type { Digest } from '../../../src/registry/digest.js';
import { anyString, digest, propertyOptions } from '../../support/grammar-arbitraries.js';
import { parsesOrRefuses } from '../../support/property-assertions.js';
import { tempDirs } from './cache-fixtures.js';

const dirs = tempDirs();
after(() => dirs.removeAll());

/** Digest-shaped strings with traversal in the algorithm or the encoding: a cast string must not become a path. */
const hostileDigest = fc.oneof(
  anyString,
  fc.tuple(fc.constantFrom('sha256', '..', '../..', 'sha256/..', '.', ''), fc.constantFrom(':', '/', ':../', ':/'), fc.oneof(anyString, digest.map((d) => d.slice(7))))
    .map(([a, s, h]) => `${a}${s}${h}`),
  digest.map((d) => `${d}/../../etc/passwd`),
  digest.map((d) => d.replace(':', ':../')),
);

describe('DiskBlobStore paths under arbitrary digests', () => {
  let root: string;
  let store: DiskBlobStore;
  before(async () => {
    const dir = await realpath(await dirs.make());
    store = new DiskBlobStore(dir);
    root = resolve(dir, 'blobs');
  });

  it('pathOf either refuses with DIGEST_INVALID or names a file three levels under the blob root', () => {
    fc.assert(
      fc.property(fc.oneof(hostileDigest, digest), (value) => {
        const r = parsesOrRefuses(() => store.pathOf(value as Digest));
        if ('error' in r) return assert.equal(r.error.code, 'DIGEST_INVALID');
        const path = resolve(r.value);
        assert.equal(path, r.value, 'the path is already normalised');
        assert.ok(path.startsWith(root + sep), `${value} -> ${path} escapes ${root}`);
        const [algorithm, fanOut, file, ...rest] = path.slice(root.length + 1).split(sep);
        assert.equal(rest.length, 0);
        assert.equal(`${algorithm}:${file}`, value);
        assert.equal(fanOut, file?.slice(0, 2));
      }),
      propertyOptions(4000),
    );
  });

  it('every generated digest maps to its own path (no two digests share a file)', () => {
    fc.assert(
      fc.property(fc.uniqueArray(digest, { minLength: 2, maxLength: 8 }), (digests) => {
        const paths = new Set(digests.map((d) => store.pathOf(d as Digest)));
        assert.equal(paths.size, digests.length);
      }),
      propertyOptions(500),
    );
  });

  it('open refuses any span outside 0 <= start <= end with BlobSpanError before touching the disk', async () => {
    const bound = fc.oneof(fc.integer({ min: -5, max: 5 }), fc.double(), fc.constant(Number.NaN), fc.constant(2 ** 60));
    await fc.assert(
      fc.asyncProperty(digest, bound, bound, async (d, start, end) => {
        const valid = Number.isSafeInteger(start) && Number.isSafeInteger(end) && start >= 0 && start <= end;
        try {
          const stream = await store.open(d as Digest, { start, end });
          assert.ok(valid, `span ${start}-${end} was accepted`);
          assert.equal(stream, undefined, 'nothing is stored');
        } catch (err) {
          assert.ok(!valid && err instanceof BlobSpanError, String(err));
        }
      }),
      propertyOptions(500),
    );
  });
});
