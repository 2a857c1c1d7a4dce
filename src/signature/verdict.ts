// A verdict on one manifest digest under one policy version: which configured signers vouched for it, and why it
// failed otherwise. Stored with the cache index, so a warm pull costs no upstream request and no crypto.
export type SignerId = { kind: 'key'; id: string } | { kind: 'identity'; issuer: string; subject: string };

export interface Verdict {
  result: 'pass' | 'fail';
  /** The requirement that decided (its config name), when one applies. */
  requirement: string;
  mode: 'enforce' | 'audit';
  signers: SignerId[];
  /** Why it failed, in words for the client's error and the log. */
  reason?: string;
  /** When the verdict was made (ms since the epoch). */
  at: number;
}

export const signerName = (s: SignerId): string => (s.kind === 'key' ? `key ${s.id.slice(0, 19)}` : `${s.subject} (${s.issuer})`);

export const signerKey = (s: SignerId): string => (s.kind === 'key' ? `key:${s.id}` : `id:${s.issuer}\n${s.subject}`);
