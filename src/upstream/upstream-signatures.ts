// A signature policy set through the admin API on an upstream added there (docs/signatures.md): checked field by
// field with the config file's schema, stored with the upstream's settings, and compiled into the upstream's
// config; a changed policy is a new policy version, so what it covers is judged again.
//
// Keys are PEM text. The API shows keys by fingerprint only, so an edit names a key the upstream already has by its
// fingerprint (`sha256:…`, as the view lists it); it is replaced by the stored PEM before anything is checked.
import { inlineSignatures, type ParsedSignatures } from '../config/signatures.js';
import { loadPublicKey } from '../signature/requirement.js';
import type { SignaturePolicyConfig } from '../signature/signature-policy.js';
import { SourceEditError } from '../config/source-errors.js';

const fingerprintRef = /^sha256:[a-f0-9]{64}$/;

/**
 * The policy to store: fingerprints replaced by the stored keys they name, every field checked. Throws VALIDATION
 * naming every field that is wrong (`signatures.require.0.keys.1`).
 */
export function checkedSignatures(given: ParsedSignatures | undefined, stored: ParsedSignatures | undefined): ParsedSignatures | undefined {
  if (!given) return undefined;
  const known = new Map<string, string>();
  for (const r of stored?.require ?? []) for (const pem of r.keys) known.set(fingerprintOf(pem), pem);
  const problems: { path: string; message: string }[] = [];
  const require = given.require.map((r, i) => ({
    ...r,
    keys: r.keys.map((k, j) => {
      if (!fingerprintRef.test(k.trim())) return k;
      const pem = known.get(k.trim());
      if (!pem) problems.push({ path: `signatures.require.${i}.keys.${j}`, message: 'no key of this upstream has this fingerprint: give the public key as PEM text' });
      return pem ?? k;
    }),
  }));
  const signatures = { ...given, require };
  problems.push(...inlineSignatures(signatures).problems);
  const first = problems[0];
  if (first) throw new SourceEditError('VALIDATION', `${first.path}: ${first.message}`, problems);
  return signatures;
}

/** The stored policy as the upstream's config takes it (checked when it was saved). */
export function signaturesOf(settings: { signatures?: ParsedSignatures | undefined }): { signatures?: SignaturePolicyConfig } {
  return settings.signatures ? { signatures: inlineSignatures(settings.signatures).policy } : {};
}

function fingerprintOf(pem: string): string {
  try {
    return loadPublicKey(pem).id;
  } catch {
    return '';
  }
}
