// The upstream form's signature policy (docs/signatures.md): requirements as the form edits them, to and from the
// API. The API shows keys by fingerprint only; a kept key goes back as its fingerprint, a new one as PEM text.
import type { UpstreamInput, UpstreamView } from '../types.js';

export interface IdentityDraft {
  issuer: string;
  issuerIsRegExp: boolean;
  subject: string;
  subjectIsRegExp: boolean;
}

export interface RequirementDraft {
  /** One glob per line. */
  repositories: string;
  mode: 'enforce' | 'audit';
  threshold: string;
  /** Fingerprints of keys the upstream has (kept unless removed). */
  keptKeys: string[];
  /** PEM text of keys to add, one block after another. */
  newKeys: string;
  identities: IdentityDraft[];
}

type Rule = { issuer?: string | undefined; issuerRegExp?: string | undefined; subject?: string | undefined; subjectRegExp?: string | undefined };

export const emptyIdentity = (): IdentityDraft => ({ issuer: '', issuerIsRegExp: false, subject: '', subjectIsRegExp: false });
export const emptyRequirement = (): RequirementDraft => ({ repositories: '', mode: 'enforce', threshold: '1', keptKeys: [], newKeys: '', identities: [] });

export function draftsOf(view: UpstreamView['signatures'] | undefined): RequirementDraft[] {
  return (view?.require ?? []).map((r) => ({
    repositories: r.repositories.join('\n'),
    mode: r.mode,
    threshold: String(r.threshold),
    keptKeys: r.keys,
    newKeys: '',
    identities: (r.identityRules as Rule[]).map((i) => ({
      issuer: i.issuerRegExp ?? i.issuer ?? '',
      issuerIsRegExp: i.issuerRegExp !== undefined,
      subject: i.subjectRegExp ?? i.subject ?? '',
      subjectIsRegExp: i.subjectRegExp !== undefined,
    })),
  }));
}

/** Every PEM block of a text (several keys may be pasted at once). */
export const pemBlocks = (text: string): string[] => text.match(/-----BEGIN [A-Z0-9 ]+-----[\s\S]*?-----END [A-Z0-9 ]+-----/g)?.map((b) => `${b}\n`) ?? (text.trim() ? [text.trim()] : []);

const identityInput = (i: IdentityDraft): Rule => ({
  ...(i.issuerIsRegExp ? { issuerRegExp: i.issuer.trim() } : { issuer: i.issuer.trim() }),
  ...(i.subjectIsRegExp ? { subjectRegExp: i.subject.trim() } : { subject: i.subject.trim() }),
});

/** What the API takes; undefined without requirements (the upstream then has no policy). */
export function signaturesInput(drafts: readonly RequirementDraft[]): UpstreamInput['signatures'] {
  if (drafts.length === 0) return undefined;
  return {
    require: drafts.map((d) => ({
      repositories: d.repositories.split(/[\s,]+/).filter(Boolean),
      mode: d.mode,
      threshold: Number(d.threshold.trim()),
      keys: [...d.keptKeys, ...pemBlocks(d.newKeys)],
      identities: d.identities.map(identityInput),
    })),
  };
}

/** A quick check before sending (the server checks every field again): repositories, and a key or an identity. */
export function signaturesProblem(drafts: readonly RequirementDraft[]): string | undefined {
  for (const [i, d] of drafts.entries()) {
    if (!d.repositories.trim()) return `requirement ${i + 1}: name the repositories it covers`;
    if (d.keptKeys.length === 0 && !d.newKeys.trim() && d.identities.length === 0) return `requirement ${i + 1}: add a public key or a keyless identity`;
  }
  return undefined;
}

/** `signatures.require.0.keys.1` -> `requirement 1, key 2`: where a server error belongs, in the form's words. */
export function signaturesPlace(path: string): string {
  const m = /^signatures\.require\.(\d+)(?:\.(keys|identities|repositories)\.(\d+))?(?:\.(\w+))?/.exec(path);
  if (!m) return path.replace(/^signatures\.?/, '') || 'policy';
  const what = { keys: 'key', identities: 'identity', repositories: 'repository' }[m[2] ?? ''];
  return [`requirement ${Number(m[1]) + 1}`, what ? `${what} ${Number(m[3]) + 1}` : m[4], what ? m[4] : undefined].filter(Boolean).join(', ');
}
