// An image's signature verdict (docs/signatures.md): passed or failed, under enforce or audit, with who signed it or
// why it failed. Images of a repository under no signature policy have no verdict.
import type { ImageView } from '../types.js';

type Signature = NonNullable<ImageView['signature']>;

export function SignatureVerdict({ signature }: { signature: Signature | undefined }) {
  if (!signature) return <span class="muted">no policy</span>;
  const pass = signature.result === 'pass';
  const detail = pass ? signature.signers.join(', ') || signature.reason || '' : signature.reason ?? 'no valid signature';
  return (
    <span class="signature-cell" data-testid="signature-verdict" data-result={signature.result} title={`${signature.requirement}, ${signature.mode} mode`}>
      <span class={`badge ${pass ? 'good' : signature.mode === 'audit' ? 'warn' : 'bad'}`}>
        {pass ? 'signed' : signature.mode === 'audit' ? 'unsigned (audit)' : 'refused'}
      </span>
      {detail ? <span class={`signer${pass ? ' mono' : ''}`}>{detail}</span> : null}
    </span>
  );
}
