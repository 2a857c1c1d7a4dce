import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { RegistryError } from '../../../src/registry/errors.js';
import { formatRange, parseRange, type RangeSpec } from '../../../src/mirror/range.js';

describe('parseRange', () => {
  const table: [string, string | undefined, RangeSpec | undefined][] = [
    ['no header is no range', undefined, undefined],
    ["Docker's resume bytes=N- is open-ended", 'bytes=1048576-', { start: 1_048_576 }],
    ["containerd's first chunk bytes=0- starts at zero", 'bytes=0-', { start: 0 }],
    ['bytes=a-b is an inclusive range', 'bytes=0-499', { start: 0, end: 499 }],
    ['a one-byte range is allowed', 'bytes=7-7', { start: 7, end: 7 }],
    ['bytes=-N is a suffix', 'bytes=-500', { suffix: 500 }],
    ['the unit is case-insensitive', 'Bytes=10-20', { start: 10, end: 20 }],
    ['whitespace around the parts is allowed', ' bytes = 10 - 20 ', { start: 10, end: 20 }],
    ['a 15-digit offset is read', 'bytes=100000000000000-', { start: 100_000_000_000_000 }],
    // RFC 9110 14.1.2: a last-pos past the representation is clipped, so any length of digits is read.
    ['a 16-digit end is read (resolveRange clips it to the blob)', 'bytes=0-9999999999999999', { start: 0, end: Number.MAX_SAFE_INTEGER }],
    ['an end beyond 2^53 reads as the largest safe integer', `bytes=5-${'9'.repeat(400)}`, { start: 5, end: Number.MAX_SAFE_INTEGER }],
    ['a 16-digit offset is read (beyond any blob: 416 once resolved)', 'bytes=1000000000000000-', { start: 1_000_000_000_000_000 }],
    // RFC 9110 14.2: a Range with a unit the server does not understand is ignored (the whole blob, 200).
    ['another unit is ignored', 'items=0-9', undefined],
    ['another unit with any range set is ignored', 'pages=1-2,5-6', undefined],
  ];
  for (const [name, header, expected] of table) it(name, () => assert.deepEqual(parseRange(header), expected));

  const refused: [string, string][] = [
    ['an empty header is refused', ''],
    ['a bare dash is refused', 'bytes=-'],
    ['a missing dash is refused', 'bytes=100'],
    ['several ranges are refused', 'bytes=0-99,200-299'],
    ['a missing unit is refused', '0-99'],
    ['a negative start is refused', 'bytes=--5'],
    ['non-digits are refused', 'bytes=a-b'],
    ['an end before the start is refused', 'bytes=500-499'],
    ['a fractional offset is refused', 'bytes=1.5-'],
  ];
  for (const [name, header] of refused) {
    it(name, () => {
      assert.throws(() => parseRange(header), (err: unknown) => {
        assert.ok(err instanceof RegistryError, `expected a RegistryError, got ${String(err)}`);
        assert.equal(err.code, 'RANGE_INVALID');
        assert.equal(err.status, 416);
        return true;
      });
    });
  }
});

describe('formatRange', () => {
  const table: [string, RangeSpec, string][] = [
    ['an open-ended range', { start: 1024 }, 'bytes=1024-'],
    ['a closed range', { start: 0, end: 499 }, 'bytes=0-499'],
    ['a suffix', { suffix: 500 }, 'bytes=-500'],
  ];
  for (const [name, range, expected] of table) {
    it(`formats ${name} and parses it back`, () => {
      assert.equal(formatRange(range), expected);
      assert.deepEqual(parseRange(formatRange(range)), range);
    });
  }
});
