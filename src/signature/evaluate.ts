// The verdict on one manifest under one requirement: every signature found is checked, and the manifest passes
// when at least `threshold` distinct configured signers vouch for exactly its digest.
import { checkCosignLayer } from './cosign-signatures.js';
import type { Requirement } from './requirement.js';
import { checkBundle, type BundleCheck, type BundleTrust } from './sigstore-bundle.js';
import type { Candidates } from './signature-discovery.js';
import { signerKey, type SignerId, type Verdict } from './verdict.js';

export function evaluate(requirement: Requirement, digest: string, manifest: Buffer, found: Candidates, trust: Omit<BundleTrust, 'keys' | 'identities'>, now: number): Verdict {
  const full: BundleTrust = { ...trust, keys: requirement.keys, identities: requirement.identities };
  const checks: BundleCheck[] = [
    ...found.cosign.map((layer) => checkCosignLayer(layer, digest, full)),
    ...found.bundles.map((bundle) => checkBundle(bundle, digest, manifest, full)),
  ];
  const signers = new Map<string, SignerId>();
  const reasons: string[] = [];
  for (const c of checks) {
    if (c.ok) signers.set(signerKey(c.signer), c.signer);
    else if (!reasons.includes(c.reason)) reasons.push(c.reason);
  }
  const base = { requirement: requirement.name, mode: requirement.mode, signers: [...signers.values()], at: now };
  if (signers.size >= requirement.threshold) return { ...base, result: 'pass' };
  let reason: string;
  if (checks.length === 0) reason = 'no signature found';
  else if (signers.size > 0) reason = `${signers.size} of ${requirement.threshold} required signers matched`;
  else reason = reasons.join('; ');
  return { ...base, result: 'fail', reason };
}
