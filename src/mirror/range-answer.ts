// What an answer to a segment's Range request says (docs/segmented-fills.md, "When the upstream ignores Range"):
// a 206 for exactly the bytes asked (Range honoured), a 200 with the whole blob (Range ignored), or an answer the
// fill cannot use.
import { RegistryError } from '../registry/errors.js';
import { fatalError, type RangeAnswer } from './segment-plan.js';

/**
 * `partial`: the body is bytes `start`-`end` of the blob; `whole`: the body is the whole blob. A 206 for other
 * bytes fails the fill (fatal); any other status is a failed try (the segment is resumed).
 */
export function classifyRangeAnswer(res: RangeAnswer, start: number, end: number, size: number): 'partial' | 'whole' {
  if (res.status === 206) {
    const range = /^bytes (\d+)-(\d+)\/(\d+|\*)$/.exec(String(res.headers['content-range'] ?? ''));
    if (!range || Number(range[1]) !== start || Number(range[2]) !== end || (range[3] !== '*' && Number(range[3]) !== size)) {
      res.body.destroy();
      throw fatalError(`upstream answered bytes ${start}-${end} with ${String(res.headers['content-range'])}`);
    }
    return 'partial';
  }
  if (res.status === 200) return 'whole';
  res.body.destroy();
  throw new RegistryError('UNAVAILABLE', `upstream answered a Range request with ${res.status}`);
}
