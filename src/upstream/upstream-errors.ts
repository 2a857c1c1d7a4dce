// Transport failures talking to an upstream, mapped onto the registry error table once, here. A refused TLS
// certificate or redirect says why in words; the mirror never falls back to an unverified connection.
import { errors as undiciErrors } from 'undici';
import { RegistryError } from '../registry/errors.js';
import { ResponseHeadError } from './direct/response-head.js';
import { PlainHttpRedirectError, PrivateRedirectError } from './redirect-guard.js';

/** Node's certificate verification codes, in the words an operator needs. */
const certificateProblems: Record<string, string> = {
  CERT_HAS_EXPIRED: 'its TLS certificate has expired',
  CERT_NOT_YET_VALID: 'its TLS certificate is not valid yet',
  ERR_TLS_CERT_ALTNAME_INVALID: 'its TLS certificate does not match the host name',
  DEPTH_ZERO_SELF_SIGNED_CERT: 'its TLS certificate is self-signed and not trusted',
  SELF_SIGNED_CERT_IN_CHAIN: 'its TLS certificate chains to an untrusted self-signed CA',
  UNABLE_TO_VERIFY_LEAF_SIGNATURE: 'its TLS certificate does not chain to a trusted CA',
  UNABLE_TO_GET_ISSUER_CERT_LOCALLY: 'its TLS certificate does not chain to a trusted CA',
  CERT_REVOKED: 'its TLS certificate is revoked',
  CERT_SIGNATURE_FAILURE: 'its TLS certificate signature is invalid',
};

export function toUpstreamError(err: unknown, upstreamName: string): Error {
  if (err instanceof RegistryError) return err;
  if (err instanceof Error && err.name === 'AbortError') return err;
  const detail = { upstream: upstreamName };
  if (
    err instanceof undiciErrors.ConnectTimeoutError ||
    err instanceof undiciErrors.HeadersTimeoutError ||
    err instanceof undiciErrors.BodyTimeoutError
  ) {
    return new RegistryError('UPSTREAM_TIMEOUT', `upstream ${upstreamName} timed out`, { detail, cause: err });
  }
  const found = causeWithCode(err);
  if (found instanceof PrivateRedirectError) {
    return new RegistryError('UPSTREAM_INVALID', `upstream ${upstreamName}: ${found.message} (allowPrivateRedirects is off)`, { detail, cause: err });
  }
  if (found instanceof PlainHttpRedirectError) {
    return new RegistryError('UPSTREAM_INVALID', `upstream ${upstreamName}: ${found.message} (${found.code})`, {
      detail: { ...detail, refused: 'plain-http-redirect', redirect: found.to },
      cause: err,
    });
  }
  if (found instanceof ResponseHeadError) {
    // A direct read's refused head (direct/response-head.ts): what is wrong, as undici's parser errors say it.
    return new RegistryError('UNAVAILABLE', `upstream ${upstreamName}: refused response head: ${found.problem} (${found.code})`, { detail, cause: err });
  }
  const code = found?.code;
  const problem = code ? certificateProblems[code] : undefined;
  if (problem) {
    return new RegistryError('UNAVAILABLE', `upstream ${upstreamName} refused: ${problem} (${code})`, {
      detail: { ...detail, tls: code },
      cause: err,
    });
  }
  const reason = code ?? (err instanceof Error ? err.message : 'error');
  return new RegistryError('UNAVAILABLE', `upstream ${upstreamName} is unreachable (${reason})`, { detail, cause: err });
}

/**
 * Worth another try: a connection failure, a timeout, a 5xx. Not a refused certificate or redirect, not an
 * upstream that answers nonsense: those answer the same way every time.
 */
export function isTransientUpstreamError(err: unknown): boolean {
  if (!(err instanceof RegistryError)) return false;
  if (err.code === 'UPSTREAM_TIMEOUT') return true;
  if (err.code !== 'UNAVAILABLE') return false;
  return !(err.detail && typeof err.detail === 'object' && 'tls' in err.detail);
}

/** The first error in a cause chain that carries a string `code` (undici wraps socket errors). */
function causeWithCode(err: unknown): (Error & { code?: string }) | undefined {
  for (let e = err, depth = 0; e instanceof Error && depth < 5; e = (e as { cause?: unknown }).cause, depth++) {
    if (e instanceof PrivateRedirectError || e instanceof PlainHttpRedirectError) return e;
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string' && !code.startsWith('UND_ERR')) return e as Error & { code: string };
  }
  return undefined;
}
