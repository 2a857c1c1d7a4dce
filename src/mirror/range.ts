// Single byte ranges (RFC 9110 §14.1.2): the only form registry clients send (PROTOCOL.md 1.3).
import { RegistryError } from '../registry/errors.js';

export interface ByteRange {
  start: number;
  /** Inclusive; undefined for an open-ended `bytes=N-`. */
  end?: number;
}

export type RangeSpec = ByteRange | { suffix: number };

/** undefined when there is no Range header; a malformed or multi-range header is refused. */
export function parseRange(header: string | undefined): RangeSpec | undefined {
  if (header === undefined) return undefined;
  const m = /^\s*bytes\s*=\s*(\d{0,15})\s*-\s*(\d{0,15})\s*$/i.exec(header);
  if (!m || (m[1] === '' && m[2] === '')) {
    throw new RegistryError('RANGE_INVALID', 'malformed or multiple Range; a single bytes=start-end is supported');
  }
  if (m[1] === '') return { suffix: Number(m[2]) };
  const start = Number(m[1]);
  if (m[2] === '') return { start };
  const end = Number(m[2]);
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
