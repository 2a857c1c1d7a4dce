// Keyed signatures over raw bytes with node:crypto: the plain keyed simple-signing case of cosign. X.509 chains,
// transparency logs and timestamps are never checked here; Sigstore bundles go through @sigstore/verify
// (sigstore-bundle.ts).
import { verify, type KeyObject } from 'node:crypto';
import type { PublicKeyEntry } from './requirement.js';

/** The hashes cosign may have used with this key: SHA-256 always; P-384 keys also with SHA-384. */
function hashesFor(key: KeyObject): (string | null)[] {
  if (key.asymmetricKeyType === 'ed25519') return [null];
  if (key.asymmetricKeyType === 'ec' && key.asymmetricKeyDetails?.namedCurve === 'secp384r1') return ['sha384', 'sha256'];
  return ['sha256'];
}

/** The key among `keys` whose signature `signature` is over `data`, or undefined. */
export function keyThatSigned(data: Buffer, signature: Buffer, keys: readonly PublicKeyEntry[]): PublicKeyEntry | undefined {
  for (const entry of keys) {
    for (const hash of hashesFor(entry.key)) {
      try {
        if (verify(hash, data, entry.key, signature)) return entry;
      } catch {
        // a malformed signature for this key type: not this key
      }
    }
  }
  return undefined;
}
