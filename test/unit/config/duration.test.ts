import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { parseDurationMs } from '../../../src/config/duration.js';

describe('parseDurationMs', () => {
  const table: [string, string | number, number | undefined][] = [
    ['a number is seconds', 30, 30_000],
    ['a fractional number is seconds', 1.5, 1_500],
    ['zero is zero', 0, 0],
    ['a negative number is refused', -1, undefined],
    ['an infinite number is refused', Number.POSITIVE_INFINITY, undefined],
    ['NaN is refused', Number.NaN, undefined],
    ['a numeric string is seconds', '90', 90_000],
    ['a fractional numeric string is seconds', '0.25', 250],
    ['milliseconds', '250ms', 250],
    ['seconds', '90s', 90_000],
    ['minutes', '5m', 300_000],
    ['hours', '1h', 3_600_000],
    ['days', '1d', 86_400_000],
    ['hours and minutes add up', '1h30m', 5_400_000],
    ['minutes and seconds add up', '1m30s', 90_000],
    ['seconds and milliseconds add up', '1s500ms', 1_500],
    ['a fractional unit value', '1.5h', 5_400_000],
    ['surrounding whitespace is ignored', '  30s ', 30_000],
    ['an empty string is refused', '', undefined],
    ['a word is refused', 'soon', undefined],
    ['an unknown unit is refused', '3w', undefined],
    ['an upper-case unit is refused', '30S', undefined],
    ['a unit without a number is refused', 'm', undefined],
    ['a negative duration is refused', '-5s', undefined],
    ['garbage between parts is refused', '1h and 30m', undefined],
    ['trailing garbage is refused', '30sx', undefined],
    ['leading garbage is refused', 'x30s', undefined],
  ];
  for (const [name, input, expected] of table) it(name, () => assert.equal(parseDurationMs(input), expected));
});
