// The one place errors become HTTP: a RegistryError's code picks the status; everything else is UNKNOWN (500)
// or, for the HTTP layer's own complaints (bad JSON, body too large), REQUEST_INVALID with their status.
import { ObjectStoreError } from '../cache/object-store-errors.js';
import { RegistryError, errorCodes } from '../registry/errors.js';

/** What a client learns of a failing object store: which kind of failure and the request id, no bucket or key. */
const objectStoreMessages: Record<ObjectStoreError['code'], string> = {
  OBJECT_STORE_DENIED: "the mirror's blob storage refused access",
  OBJECT_STORE_NO_BUCKET: "the mirror's blob storage bucket does not exist",
  OBJECT_STORE_UNREACHABLE: "the mirror's blob storage is unreachable",
  OBJECT_STORE_FAILED: "the mirror's blob storage failed",
};

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
  if (err instanceof ObjectStoreError) {
    const detail = { storage: err.code, ...(err.details.requestId ? { requestId: err.details.requestId } : {}) };
    return new RegistryError('UNAVAILABLE', objectStoreMessages[err.code], { detail, cause: err });
  }
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
