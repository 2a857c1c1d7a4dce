// Single byte ranges (RFC 9110 §14.1.2): the only form registry clients send (docs/protocol.md, "Blobs").
import { RegistryError } from '../registry/errors.js';

export interface ByteRange {
  start: number;
  /** Inclusive; undefined for an open-ended `bytes=N-`. */
  end?: number;
}

export type RangeSpec = ByteRange | { suffix: number };

/** A position of any length of digits: beyond 2^53 it exceeds every blob anyway, so it reads as the largest safe one. */
const position = (digits: string): number => Math.min(Number(digits), Number.MAX_SAFE_INTEGER);

/**
 * undefined when there is no Range header, or one in a unit other than bytes (RFC 9110 14.2: ignored, the whole
 * representation is sent); a malformed or multi-range bytes header is refused.
 */
export function parseRange(header: string | undefined): RangeSpec | undefined {
  if (header === undefined) return undefined;
  const unit = /^\s*([!#$%&'*+.^_`|~0-9A-Za-z-]+)\s*=/.exec(header)?.[1];
  if (unit !== undefined && unit.toLowerCase() !== 'bytes') return undefined;
  const m = /^\s*bytes\s*=\s*(\d*)\s*-\s*(\d*)\s*$/i.exec(header);
  if (!m || (m[1] === '' && m[2] === '')) {
    throw new RegistryError('RANGE_INVALID', 'malformed or multiple Range; a single bytes=start-end is supported');
  }
  if (m[1] === '') return { suffix: position(m[2]!) };
  const start = position(m[1]!);
  if (m[2] === '') return { start };
  // RFC 9110 14.1.2: a last-pos at or past the end is clipped to the blob (resolveRange).
  const end = position(m[2]!);
  if (end < start) throw new RegistryError('RANGE_INVALID', 'Range end is before its start');
  return { start, end };
}

export function formatRange(range: RangeSpec): string {
  if ('suffix' in range) return `bytes=-${range.suffix}`;
  return `bytes=${range.start}-${range.end ?? ''}`;
}

/** The span a range selects in a blob of `size` bytes (the whole blob without one); 416 when unsatisfiable. */
export function resolveRange(range: RangeSpec | undefined, size: number): { start: number; end: number } {
  if (!range) return { start: 0, end: Math.max(size - 1, -1) };
  const unsatisfiable = () =>
    new RegistryError('RANGE_INVALID', undefined, { headers: { 'content-range': `bytes */${size}` } });
  if ('suffix' in range) {
    if (range.suffix === 0 || size === 0) throw unsatisfiable();
    return { start: Math.max(0, size - range.suffix), end: size - 1 };
  }
  if (range.start >= size) throw unsatisfiable();
  return { start: range.start, end: Math.min(range.end ?? size - 1, size - 1) };
}
