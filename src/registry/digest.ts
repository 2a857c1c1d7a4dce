// Digests (OCI image-spec descriptor.md "Digests"): algorithm ":" encoded.
import { RegistryError } from './errors.js';

declare const digestBrand: unique symbol;
export type Digest = string & { readonly [digestBrand]: true };

/** Algorithms we can verify; others are refused rather than passed through unchecked. */
const encodings: Record<string, RegExp> = {
  sha256: /^[a-f0-9]{64}$/,
  sha512: /^[a-f0-9]{128}$/,
};

// image-spec grammar: algorithm ::= component (separator component)*, component ::= [a-z0-9]+
const grammar = /^[a-z0-9]+(?:[+._-][a-z0-9]+)*:[a-zA-Z0-9=_-]+$/;

export function isDigestLike(value: string): boolean {
  return grammar.test(value);
}

export function parseDigest(value: string): Digest {
  if (!grammar.test(value)) throw new RegistryError('DIGEST_INVALID', 'invalid digest', { detail: { digest: value } });
  const colon = value.indexOf(':');
  const algorithm = value.slice(0, colon);
  const pattern = encodings[algorithm];
  if (!pattern) {
    throw new RegistryError('DIGEST_INVALID', `unsupported digest algorithm ${algorithm}`, { detail: { digest: value } });
  }
  if (!pattern.test(value.slice(colon + 1))) {
    throw new RegistryError('DIGEST_INVALID', 'invalid digest encoding', { detail: { digest: value } });
  }
  return value as Digest;
}

export function digestAlgorithm(digest: Digest): 'sha256' | 'sha512' {
  return digest.slice(0, digest.indexOf(':')) as 'sha256' | 'sha512';
}

export function digestHex(digest: Digest): string {
  return digest.slice(digest.indexOf(':') + 1);
}
