// The Sigstore trust material keyless signatures are checked against (docs/signatures.md): Sigstore's public-good
// root as shipped in @sigstore/tuf's seed by default, or an operator's own `trustedRoot` JSON (a private Fulcio,
// Rekor and timestamp authority). Read once at start; the root is data, the checks are @sigstore/verify's.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import type { TrustedRoot } from '@sigstore/protobuf-specs';

// The protobuf codec loads on first use: a mirror without signature requirements never needs it.
type Codec = typeof import('@sigstore/protobuf-specs').TrustedRoot;
let codec: Codec | undefined;
/** `TrustedRoot.fromJSON` / `toJSON` of @sigstore/protobuf-specs. */
export const trustedRootCodec = (): Codec =>
  (codec ??= (createRequire(import.meta.url)('@sigstore/protobuf-specs') as typeof import('@sigstore/protobuf-specs')).TrustedRoot);
let empty: TrustedRoot | undefined;
/** A root that trusts nothing: the material for keyed checks, which need none. */
export const emptyTrustedRoot = (): TrustedRoot => (empty ??= trustedRootCodec().fromJSON({}));

const publicGoodRepository = 'https://tuf-repo-cdn.sigstore.dev';

export class TrustedRootError extends Error {
  readonly code = 'TRUSTED_ROOT_INVALID';
}

export function parseTrustedRoot(json: string, source: string): TrustedRoot {
  try {
    const root = trustedRootCodec().fromJSON(JSON.parse(json));
    if (root.certificateAuthorities.length === 0 && root.tlogs.length === 0 && root.timestampAuthorities.length === 0) {
      throw new Error('it names no certificate authority, transparency log or timestamp authority');
    }
    return root;
  } catch (err) {
    throw new TrustedRootError(`${source} is not a Sigstore trusted root: ${(err as Error).message}`);
  }
}

/** The public-good trusted root embedded in the @sigstore/tuf package (no network access). */
export function publicGoodTrustedRoot(): TrustedRoot {
  const seedsPath = createRequire(import.meta.url).resolve('@sigstore/tuf/seeds.json');
  const seeds = JSON.parse(readFileSync(seedsPath, 'utf8')) as Record<string, { targets?: Record<string, string> }>;
  const target = seeds[publicGoodRepository]?.targets?.['trusted_root.json'];
  if (!target) throw new TrustedRootError('the @sigstore/tuf seed has no trusted_root.json');
  return parseTrustedRoot(Buffer.from(target, 'base64').toString('utf8'), 'the public-good trusted root');
}

/** `path` read as a trusted root, or the public-good one when no path is configured. */
export function loadTrustedRoot(path: string | undefined): TrustedRoot {
  return path === undefined ? publicGoodTrustedRoot() : parseTrustedRoot(readFileSync(path, 'utf8'), path);
}
