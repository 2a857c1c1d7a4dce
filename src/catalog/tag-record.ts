// The body of a tag object (`<prefix>tags/...`, catalog-keys.ts): the digest the upstream last confirmed for the tag
// and when, by which replica. validatedAt is what another replica's stale rules read (freshness.ts): within tagTtl
// it serves the tag without asking the upstream; after it, it revalidates, and on upstream trouble serves it STALE.
import { isDigestLike, parseDigest, type Digest } from '../registry/digest.js';

export interface TagRecord {
  digest: Digest;
  validatedAt: number;
  replica: string;
}

export function encodeTagRecord(r: TagRecord): Buffer {
  return Buffer.from(JSON.stringify({ digest: r.digest, validatedAt: r.validatedAt, replica: r.replica }));
}

/** undefined for anything that is not a well-formed record (a stray or damaged object is skipped, not trusted). */
export function decodeTagRecord(bytes: Buffer): TagRecord | undefined {
  let doc: unknown;
  try {
    doc = JSON.parse(bytes.toString('utf8'));
  } catch {
    return undefined;
  }
  if (typeof doc !== 'object' || doc === null) return undefined;
  const { digest, validatedAt, replica } = doc as Record<string, unknown>;
  if (typeof digest !== 'string' || !isDigestLike(digest) || typeof validatedAt !== 'number' || !Number.isSafeInteger(validatedAt) || validatedAt < 0) {
    return undefined;
  }
  try {
    return { digest: parseDigest(digest), validatedAt, replica: typeof replica === 'string' ? replica : '' };
  } catch {
    return undefined;
  }
}
