// Content-addressed object paths in the bucket (blobs/ and manifests/): `<algorithm>/<first two hex>/<hex>`.
// One place that reads them back, so a stray or forged key never passes for a digest.
import { isDigestLike, parseDigest, type Digest } from '../registry/digest.js';

/** `sha256/ab/abcd...` -> `sha256:abcd...`, or undefined for anything else. */
export function digestOfContentPath(rest: string | undefined): Digest | undefined {
  const [algorithm, fanOut, hex, ...extra] = (rest ?? '').split('/');
  if (!algorithm || !fanOut || !hex || extra.length > 0 || hex.slice(0, 2) !== fanOut) return undefined;
  const name = `${algorithm}:${hex}`;
  if (!isDigestLike(name)) return undefined;
  try {
    return parseDigest(name);
  } catch {
    return undefined;
  }
}
