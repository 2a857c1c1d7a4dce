// The one place errors become HTTP: a RegistryError's code picks the status; everything else is UNKNOWN (500)
// or, for the HTTP layer's own complaints (bad JSON, body too large), REQUEST_INVALID with their status.
import { RegistryError, errorCodes } from '../registry/errors.js';

export interface ErrorReply {
  status: number;
  headers: Record<string, string | string[]>;
  body: string;
}

export function errorReply(err: unknown): ErrorReply {
  const registryError = toRegistryError(err);
  const body = JSON.stringify(registryError.toBody());
  const status = registryError.code === 'REQUEST_INVALID' && httpStatus(err) ? httpStatus(err)! : registryError.status;
  return {
    status,
    headers: { ...registryError.headers, 'content-type': 'application/json; charset=utf-8', 'content-length': String(Buffer.byteLength(body)) },
    body,
  };
}

export function toRegistryError(err: unknown): RegistryError {
  if (err instanceof RegistryError) return err;
  const status = httpStatus(err);
  if (status && status >= 400 && status < 500) {
    return new RegistryError('REQUEST_INVALID', (err as Error).message || errorCodes.REQUEST_INVALID.message);
  }
  return new RegistryError('UNKNOWN');
}

function httpStatus(err: unknown): number | undefined {
  const s = (err as { statusCode?: unknown } | undefined)?.statusCode;
  return typeof s === 'number' ? s : undefined;
}
