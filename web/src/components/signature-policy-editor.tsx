// The signature policy section of the upstream form (docs/signatures.md): requirements with the repositories they
// cover, mode, threshold, public keys (kept ones by fingerprint, new ones as PEM) and keyless identities.
import { shortDigest } from '../format.js';
import { emptyIdentity, emptyRequirement, type IdentityDraft, type RequirementDraft } from '../pages/signature-policy-model.js';

interface Props {
  value: RequirementDraft[];
  onChange(next: RequirementDraft[]): void;
  error?: string | undefined;
}

export function SignaturePolicyEditor({ value, onChange, error }: Props) {
  const update = (i: number, patch: Partial<RequirementDraft>): void => onChange(value.map((d, j) => (j === i ? { ...d, ...patch } : d)));
  return (
    <div class="signature-editor" id="upstream-signatures" tabIndex={-1} data-testid="signature-editor">
      {error ? (
        <p class="field-error" id="upstream-signatures-error" data-testid="error-upstream-signatures" role="alert">
          {error}
        </p>
      ) : null}
      {value.length === 0 ? <p class="muted">No signature policy: images are served without checking signatures.</p> : null}
      {value.map((d, i) => (
        <RequirementEditor key={i} index={i} draft={d} onChange={(patch) => update(i, patch)} onRemove={() => onChange(value.filter((_, j) => j !== i))} />
      ))}
      <button type="button" class="button small" onClick={() => onChange([...value, emptyRequirement()])} data-testid="signature-add-requirement">
        Add a requirement
      </button>
    </div>
  );
}

function RequirementEditor({ index, draft, onChange, onRemove }: { index: number; draft: RequirementDraft; onChange(patch: Partial<RequirementDraft>): void; onRemove(): void }) {
  const id = (name: string) => `upstream-signatures-${index}-${name}`;
  return (
    <section class="signature-requirement" aria-label={`Requirement ${index + 1}`} data-testid={`signature-requirement-${index}`}>
      <div class="signature-requirement-head">
        <h3>Requirement {index + 1}</h3>
        <button type="button" class="button small danger" onClick={onRemove}>
          Remove
        </button>
      </div>
      <div class="grid">
        <div class="field">
          <label for={id('repositories')}>Repositories that must be signed</label>
          <textarea id={id('repositories')} class="mono" rows={2} spellcheck={false} value={draft.repositories} onInput={(e) => onChange({ repositories: e.currentTarget.value })} />
          <p class="hint">Globs as on the upstream, one per line: team/*</p>
        </div>
        <div class="field">
          <label for={id('mode')}>Signature mode</label>
          <select id={id('mode')} value={draft.mode} onChange={(e) => onChange({ mode: e.currentTarget.value as RequirementDraft['mode'] })}>
            <option value="enforce">Enforce: refuse what fails</option>
            <option value="audit">Audit: serve, log and count</option>
          </select>
        </div>
        <div class="field">
          <label for={id('threshold')}>Signers needed</label>
          <input id={id('threshold')} inputMode="numeric" value={draft.threshold} onInput={(e) => onChange({ threshold: e.currentTarget.value })} />
        </div>
      </div>
      <div class="field">
        <label for={id('keys')}>Public keys (PEM)</label>
        {draft.keptKeys.length > 0 ? (
          <ul class="kept-keys">
            {draft.keptKeys.map((k) => (
              <li key={k}>
                <span class="mono" title={k}>
                  key {shortDigest(k)}
                </span>{' '}
                <button type="button" class="link-button" onClick={() => onChange({ keptKeys: draft.keptKeys.filter((x) => x !== k) })} aria-label={`Remove key ${shortDigest(k)}`}>
                  remove
                </button>
              </li>
            ))}
          </ul>
        ) : null}
        <textarea id={id('keys')} class="mono" rows={3} spellcheck={false} placeholder="-----BEGIN PUBLIC KEY-----" value={draft.newKeys} onInput={(e) => onChange({ newKeys: e.currentTarget.value })} />
        <p class="hint">cosign.pub: ECDSA P-256/P-384, Ed25519 or RSA. Paste one or more to add them.</p>
      </div>
      <IdentitiesEditor index={index} identities={draft.identities} onChange={(identities) => onChange({ identities })} />
    </section>
  );
}

function IdentitiesEditor({ index, identities, onChange }: { index: number; identities: IdentityDraft[]; onChange(next: IdentityDraft[]): void }) {
  const update = (i: number, patch: Partial<IdentityDraft>): void => onChange(identities.map((x, j) => (j === i ? { ...x, ...patch } : x)));
  const id = (i: number, name: string) => `upstream-signatures-${index}-identity-${i}-${name}`;
  return (
    <div class="field">
      <span class="label">Keyless identities</span>
      {identities.map((x, i) => (
        <div class="signature-identity" key={i}>
          <label for={id(i, 'issuer')}>Issuer</label>
          <input id={id(i, 'issuer')} class="mono" value={x.issuer} placeholder="https://token.actions.githubusercontent.com" onInput={(e) => update(i, { issuer: e.currentTarget.value })} />
          <label class="check">
            <input type="checkbox" aria-label="Issuer is a regular expression" checked={x.issuerIsRegExp} onChange={(e) => update(i, { issuerIsRegExp: e.currentTarget.checked })} />
            <span>regular expression</span>
          </label>
          <label for={id(i, 'subject')}>Subject</label>
          <input id={id(i, 'subject')} class="mono" value={x.subject} placeholder="https://github.com/org/repo/.github/workflows/release.yml@refs/tags/v1" onInput={(e) => update(i, { subject: e.currentTarget.value })} />
          <label class="check">
            <input type="checkbox" aria-label="Subject is a regular expression" checked={x.subjectIsRegExp} onChange={(e) => update(i, { subjectIsRegExp: e.currentTarget.checked })} />
            <span>regular expression</span>
          </label>
          <button type="button" class="link-button" onClick={() => onChange(identities.filter((_, j) => j !== i))}>
            remove identity
          </button>
        </div>
      ))}
      <button type="button" class="button small" onClick={() => onChange([...identities, emptyIdentity()])} data-testid={`signature-add-identity-${index}`}>
        Add an identity
      </button>
      <p class="hint">Checked against Sigstore's public-good root; a regular expression must match the whole value.</p>
    </div>
  );
}
