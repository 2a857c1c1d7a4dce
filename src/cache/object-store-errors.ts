// Failures of the S3-compatible object store, named by a stable code. "Not stored" is not a failure (the store
// returns undefined); everything else becomes an ObjectStoreError that carries the S3 request id, which is what an
// operator quotes to the storage provider. The registry edge turns it into an OCI error (src/server/error-reply.ts).

export type ObjectStoreErrorCode =
  /** Credentials refused or missing permissions (AccessDenied, InvalidAccessKeyId, SignatureDoesNotMatch). */
  | 'OBJECT_STORE_DENIED'
  /** The configured bucket does not exist. */
  | 'OBJECT_STORE_NO_BUCKET'
  /** No HTTP answer: connection refused or reset, DNS, timeout. */
  | 'OBJECT_STORE_UNREACHABLE'
  /** The store answered with another error (5xx, throttling, an unexpected reply). */
  | 'OBJECT_STORE_FAILED';

export class ObjectStoreError extends Error {
  constructor(
    readonly code: ObjectStoreErrorCode,
    /** The S3 operation: HeadObject, GetObject, PutObject, Upload, DeleteObject, ListObjectsV2, HeadBucket. */
    readonly operation: string,
    message: string,
    readonly details: { key?: string; status?: number; s3Code?: string; requestId?: string },
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'ObjectStoreError';
  }
}

/** What the AWS SDK v3 puts on a service error (and what a network error lacks). */
interface SdkError {
  name?: string;
  Code?: string;
  message?: string;
  $metadata?: { httpStatusCode?: number; requestId?: string; extendedRequestId?: string };
  $response?: { statusCode?: number; headers?: Record<string, string> };
}

const asSdkError = (err: unknown): SdkError => (typeof err === 'object' && err !== null ? (err as SdkError) : {});

export function s3Status(err: unknown): number | undefined {
  const e = asSdkError(err);
  return e.$metadata?.httpStatusCode ?? e.$response?.statusCode;
}

/** NoSuchKey on GET, a bare 404 on HEAD (a HEAD answer has no body to name the error). */
export function isNotStored(err: unknown): boolean {
  const e = asSdkError(err);
  return e.name === 'NoSuchKey' || e.name === 'NotFound' || (s3Status(err) === 404 && e.name !== 'NoSuchBucket');
}

/** If-None-Match: * lost against an object already there (a concurrent commit of the same digest). */
export function isPreconditionFailed(err: unknown): boolean {
  return s3Status(err) === 412 || asSdkError(err).name === 'PreconditionFailed';
}

const deniedNames = new Set(['AccessDenied', 'InvalidAccessKeyId', 'SignatureDoesNotMatch', 'Forbidden', 'AllAccessDisabled']);

export function toObjectStoreError(err: unknown, operation: string, key?: string): ObjectStoreError {
  if (err instanceof ObjectStoreError) return err;
  const e = asSdkError(err);
  const status = s3Status(err);
  const name = e.Code ?? e.name ?? 'Error';
  const requestId = e.$metadata?.requestId ?? e.$response?.headers?.['x-amz-request-id'];
  const details = { ...(key ? { key } : {}), ...(status ? { status } : {}), s3Code: name, ...(requestId ? { requestId } : {}) };
  const where = `${operation}${key ? ` ${key}` : ''}`;
  if (name === 'NoSuchBucket') return new ObjectStoreError('OBJECT_STORE_NO_BUCKET', operation, `object store: bucket does not exist (${where})`, details, { cause: err });
  if (deniedNames.has(name) || status === 403) {
    return new ObjectStoreError('OBJECT_STORE_DENIED', operation, `object store refused access: ${name} (${where})`, details, { cause: err });
  }
  // No HTTP status: the request never got an answer (ECONNREFUSED, ECONNRESET, DNS, TimeoutError).
  if (status === undefined) {
    return new ObjectStoreError('OBJECT_STORE_UNREACHABLE', operation, `object store unreachable: ${e.message ?? name} (${where})`, details, { cause: err });
  }
  return new ObjectStoreError('OBJECT_STORE_FAILED', operation, `object store error: ${name}${status ? ` (HTTP ${status})` : ''} (${where})`, details, { cause: err });
}
