// An image's signature verdict as the cache explorer and `pullgate cache ls` show it (docs/signatures.md): the
// newest verdict on its digest under its upstream's policy, with who signed it or why it failed.
import type { SignatureVerdicts } from '../cache/signature-verdicts.js';
import { signerName, type Verdict } from '../signature/verdict.js';

export interface SignatureView {
  result: 'pass' | 'fail';
  mode: 'enforce' | 'audit';
  requirement: string;
  signers: string[];
  reason?: string;
  at: number;
}

export function signatureOf(verdicts: SignatureVerdicts, upstream: string, digest: string): SignatureView | undefined {
  // Policy keys are `upstream/requirement@version` (signature/signature-policy.ts).
  const row = verdicts.all(digest).find((v) => v.policy.startsWith(`${upstream}/`));
  if (!row) return undefined;
  let v: Verdict;
  try {
    v = JSON.parse(row.json) as Verdict;
  } catch {
    return undefined;
  }
  return {
    result: v.result,
    mode: v.mode,
    requirement: v.requirement,
    signers: (v.signers ?? []).map(signerName),
    ...(v.reason !== undefined ? { reason: v.reason } : {}),
    at: v.at,
  };
}

/** The image list's rows with their verdicts. */
export function withSignatures<T extends { digest: string }>(verdicts: SignatureVerdicts, upstream: string, images: T[]): Array<T & { signature?: SignatureView }> {
  return images.map((i) => {
    const signature = signatureOf(verdicts, upstream, i.digest);
    return signature ? { ...i, signature } : i;
  });
}
