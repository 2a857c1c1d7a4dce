import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { formatRange, parseRange, resolveRange, type RangeSpec } from '../../../src/mirror/range.js';
import { anyString, propertyOptions } from '../../support/grammar-arbitraries.js';
import { parsesOrRefuses } from '../../support/property-assertions.js';

const offset = fc.oneof(fc.integer({ min: 0, max: 4096 }), fc.maxSafeNat().map((n) => n % 1e15));
const rangeSpec: fc.Arbitrary<RangeSpec> = fc.oneof(
  offset.map((start) => ({ start })),
  fc.tuple(offset, offset).map(([a, b]) => ({ start: Math.min(a, b), end: Math.max(a, b) })),
  offset.map((suffix) => ({ suffix })),
);
const rangeHeader = fc.oneof(
  anyString,
  rangeSpec.map(formatRange),
  fc.tuple(fc.constantFrom('bytes', 'Bytes', 'BYTES', 'items', ''), fc.string({ maxLength: 20, unit: 'grapheme-ascii' })).map(([u, r]) => `${u}=${r}`),
);
const size = fc.oneof(fc.integer({ min: 0, max: 4096 }), fc.integer({ min: 0, max: 2 ** 40 }));

describe('Range headers under arbitrary input', () => {
  it('parseRange refuses anything it cannot read with RANGE_INVALID (416)', () => {
    fc.assert(
      fc.property(rangeHeader, (header) => {
        const r = parsesOrRefuses(() => parseRange(header));
        if ('error' in r) assert.equal(r.error.code, 'RANGE_INVALID');
      }),
      propertyOptions(5000),
    );
  });

  it('ranges generated from RFC 9110 round-trip through formatRange and parseRange', () => {
    fc.assert(fc.property(rangeSpec, (spec) => assert.deepEqual(parseRange(formatRange(spec)), spec)), propertyOptions(2000));
  });

  it('a resolved range lies within [0, size) and starts where asked; otherwise 416 with bytes */size', () => {
    fc.assert(
      fc.property(rangeHeader, size, (header, blobSize) => {
        const parsed = parsesOrRefuses(() => parseRange(header));
        if (!('value' in parsed)) return;
        const resolved = parsesOrRefuses(() => resolveRange(parsed.value, blobSize));
        if ('error' in resolved) {
          assert.equal(resolved.error.code, 'RANGE_INVALID');
          assert.equal(resolved.error.headers['content-range'], `bytes */${blobSize}`);
          return;
        }
        const { start, end } = resolved.value;
        assert.ok(Number.isSafeInteger(start) && Number.isSafeInteger(end));
        if (blobSize === 0) return assert.deepEqual(resolved.value, { start: 0, end: -1 });
        assert.ok(start >= 0 && start <= end && end < blobSize, `${header} on ${blobSize} bytes -> ${start}-${end}`);
        const spec = parsed.value;
        if (spec && 'start' in spec) assert.equal(start, spec.start);
        if (spec && 'suffix' in spec) assert.equal(end - start + 1, Math.min(spec.suffix, blobSize));
      }),
      propertyOptions(5000),
    );
  });
});
