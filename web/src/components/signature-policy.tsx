// An upstream's signature policy, read-only here (docs/signatures.md: set in the config file, or in the form of an
// upstream added in the admin): which repositories
// must be signed, in which mode, by which keys (by fingerprint) or keyless identities.
import { shortDigest } from '../format.js';
import type { UpstreamView } from '../types.js';

export function SignaturePolicy({ upstream }: { upstream: UpstreamView }) {
  const s = upstream.signatures;
  if (!s) return null;
  const enforced = s.require.some((r) => r.mode === 'enforce');
  return (
    <details class="signature-policy small" data-testid={`upstream-signatures-${upstream.name}`}>
      <summary>
        <span class={`badge ${enforced ? 'good' : 'warn'}`}>{enforced ? 'signatures enforced' : 'signatures audited'}</span>
      </summary>
      <ul>
        {s.require.map((r, i) => (
          <li key={i}>
            <span class="mono">{r.repositories.join(', ')}</span>{' '}
            <span class="muted">
              {r.mode}, {r.threshold} of:
            </span>
            {r.keys.map((k) => (
              <span key={k} class="mono block" title={k}>
                key {shortDigest(k)}
              </span>
            ))}
            {r.identities.map((id) => (
              <span key={`${id.issuer} ${id.subject}`} class="block break" title={`issuer ${id.issuer}`}>
                {id.subject} <span class="muted">({id.issuer})</span>
              </span>
            ))}
          </li>
        ))}
      </ul>
      <p class="muted">
        {s.require.some((r) => r.identities.length > 0)
          ? s.customTrustedRoot
            ? 'Keyless signatures are checked against a private trusted root. '
            : "Keyless signatures are checked against Sigstore's public-good root. "
          : ''}
        {upstream.source === 'admin' ? 'Edit it in the upstream’s form.' : 'Set in the config file.'}
      </p>
    </details>
  );
}
