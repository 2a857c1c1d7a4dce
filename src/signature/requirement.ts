// What a signature policy asks of the images of some repositories of one upstream (docs/signatures.md): who must
// have signed, how many distinct signers, and whether a failure refuses the pull or is only recorded.
import { createHash, createPrivateKey, createPublicKey, type KeyObject } from 'node:crypto';

export type SignatureMode = 'enforce' | 'audit';

/** A keyless signer: the certificate's OIDC issuer and subject (SAN), each exact or a regular expression. */
export interface IdentityRule {
  issuer?: string | undefined;
  issuerRegExp?: string | undefined;
  subject?: string | undefined;
  subjectRegExp?: string | undefined;
}

export interface RequirementConfig {
  /** Repository globs as in `policy.allow` (`library/*`, `team/app`). */
  repositories: string[];
  /** PEM public keys (ECDSA P-256/P-384, Ed25519, RSA). */
  keys?: string[];
  identities?: IdentityRule[];
  /** How many distinct signers must match (default 1). */
  threshold?: number;
  mode?: SignatureMode;
}

export interface PublicKeyEntry {
  /** The key's fingerprint (SHA-256 of its SPKI DER), which names it in verdicts and logs. */
  id: string;
  key: KeyObject;
}

export interface Requirement {
  /** `signatures[N]` in the upstream's config, for messages. */
  name: string;
  repositories: RegExp[];
  keys: PublicKeyEntry[];
  identities: IdentityRule[];
  threshold: number;
  mode: SignatureMode;
}

export class SignaturePolicyError extends Error {
  readonly code = 'SIGNATURE_POLICY_INVALID';
}

function glob(pattern: string): RegExp {
  return new RegExp(`^${pattern.split('*').map((p) => p.replace(/[.+?^${}()|[\]\\/-]/g, '\\$&')).join('.*')}$`);
}

export function loadPublicKey(pem: string): PublicKeyEntry {
  // Node derives a public key from a private one: refused, so that a signing key pasted by mistake is not kept.
  if (isPrivateKey(pem)) throw new SignaturePolicyError('a private key: give the public key (cosign.pub), and keep the private key out of the mirror');
  let key: KeyObject;
  try {
    key = createPublicKey(pem);
  } catch (err) {
    throw new SignaturePolicyError(`not a PEM public key: ${(err as Error).message}`);
  }
  const type = key.asymmetricKeyType;
  const curve = key.asymmetricKeyDetails?.namedCurve;
  const supported = type === 'ed25519' || type === 'rsa' || (type === 'ec' && (curve === 'prime256v1' || curve === 'secp384r1'));
  if (!supported) throw new SignaturePolicyError(`unsupported key type ${type}${curve ? ` (${curve})` : ''}`);
  const der = key.export({ type: 'spki', format: 'der' });
  return { id: `sha256:${createHash('sha256').update(der).digest('hex')}`, key };
}

function isPrivateKey(pem: string): boolean {
  try {
    createPrivateKey(pem);
    return true;
  } catch {
    return false;
  }
}

export function compileRequirement(config: RequirementConfig, name: string): Requirement {
  const keys = (config.keys ?? []).map(loadPublicKey);
  const identities = config.identities ?? [];
  if (keys.length === 0 && identities.length === 0) throw new SignaturePolicyError(`${name} names no key and no identity`);
  for (const id of identities) {
    for (const re of [id.issuerRegExp, id.subjectRegExp]) {
      if (re !== undefined) {
        try {
          new RegExp(re);
        } catch {
          throw new SignaturePolicyError(`${name}: not a regular expression: ${re}`);
        }
      }
    }
    if (id.subject === undefined && id.subjectRegExp === undefined) throw new SignaturePolicyError(`${name}: an identity needs subject or subjectRegExp`);
    if (id.issuer === undefined && id.issuerRegExp === undefined) throw new SignaturePolicyError(`${name}: an identity needs issuer or issuerRegExp`);
  }
  const threshold = config.threshold ?? 1;
  if (!Number.isInteger(threshold) || threshold < 1) throw new SignaturePolicyError(`${name}: threshold must be a whole number of at least 1`);
  return { name, repositories: config.repositories.map(glob), keys, identities, threshold, mode: config.mode ?? 'enforce' };
}

/** Whether `value` meets an exact-or-pattern rule (both absent: anything). Patterns match the whole value. */
export function matchesRule(value: string | undefined, exact: string | undefined, pattern: string | undefined): boolean {
  if (value === undefined) return false;
  if (exact !== undefined && value !== exact) return false;
  if (pattern !== undefined && !new RegExp(`^(?:${pattern})$`).test(value)) return false;
  return true;
}

/** A stable fingerprint of the requirements: a cached verdict holds only for the policy version it was made under. */
export function policyVersion(configs: readonly RequirementConfig[], trustedRoot: string | undefined, rootContent?: string): string {
  const h = createHash('sha256').update(JSON.stringify(configs));
  if (trustedRoot !== undefined) h.update(trustedRoot);
  if (rootContent !== undefined) h.update('\n').update(rootContent);
  return h.digest('hex').slice(0, 16);
}
