// What the upstream page shows read-only next to an upstream's settings: its signature policy (docs/signatures.md),
// keys by fingerprint rather than PEM, and the quota governor's view of it (docs/watch.md).
import type { SignaturePolicyConfig } from '../signature/signature-policy.js';
import { loadPublicKey, type IdentityRule } from '../signature/requirement.js';
import type { AdminContext } from './admin-context.js';

const fingerprint = (pem: string): string => {
  try {
    return loadPublicKey(pem).id;
  } catch {
    return 'unreadable key';
  }
};

const ruleText = (exact: string | undefined, re: string | undefined): string => exact ?? (re !== undefined ? `/${re}/` : '');

export function signaturesView(s: SignaturePolicyConfig) {
  return {
    customTrustedRoot: s.trustedRoot !== undefined,
    require: s.require.map((r) => ({
      repositories: r.repositories,
      mode: r.mode ?? 'enforce',
      threshold: r.threshold ?? 1,
      keys: (r.keys ?? []).map(fingerprint),
      identityRules: r.identities ?? [],
      identities: (r.identities ?? []).map((i: IdentityRule) => ({ issuer: ruleText(i.issuer, i.issuerRegExp), subject: ruleText(i.subject, i.subjectRegExp) })),
    })),
  };
}

export function quotaOf(ctx: AdminContext, upstream: string) {
  const q = ctx.watch.governor.view(upstream);
  return { reserve: q.reserve, ...(q.pausedUntil !== undefined ? { pausedUntil: q.pausedUntil } : {}), heldBack: q.heldBack };
}
