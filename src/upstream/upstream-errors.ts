// Transport failures talking to an upstream, mapped onto the registry error table once, here.
import { errors as undiciErrors } from 'undici';
import { RegistryError } from '../registry/errors.js';

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
  const code = (err as { code?: unknown } | undefined)?.code;
  const reason = typeof code === 'string' ? code : err instanceof Error ? err.message : 'error';
  return new RegistryError('UNAVAILABLE', `upstream ${upstreamName} is unreachable (${reason})`, { detail, cause: err });
}
