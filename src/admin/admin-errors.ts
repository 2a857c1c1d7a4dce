// The admin API's error codes, mapped to HTTP once (in admin-server.ts). Everything below the edge throws AdminError.

export const adminErrorCodes = {
  VALIDATION: 400,
  UNAUTHORIZED: 401,
  CSRF: 403,
  FORBIDDEN: 403,
  /** Host is not a name the admin answers to (docs/security.md). */
  HOST_REFUSED: 403,
  /** An absolute-form or otherwise non-origin-form request target. */
  TARGET_REFUSED: 403,
  NOT_FOUND: 404,
  CONFLICT: 409,
  READ_ONLY: 409,
  TOO_MANY_ATTEMPTS: 429,
  UPSTREAM_FAILED: 502,
  INTERNAL: 500,
} as const;

export type AdminErrorCode = keyof typeof adminErrorCodes;

export interface FieldError {
  path: string;
  message: string;
}

export class AdminError extends Error {
  constructor(
    readonly code: AdminErrorCode,
    message: string,
    readonly extra: { fields?: FieldError[]; retryAfterSeconds?: number } = {},
  ) {
    super(message);
    this.name = 'AdminError';
  }

  get status(): number {
    return adminErrorCodes[this.code];
  }
}

/** zod issues as field errors, with dotted paths (`auth.username`, `hosts.0`). */
export function validationError(issues: ReadonlyArray<{ path: ReadonlyArray<PropertyKey>; message: string }>, prefix: string[] = []): AdminError {
  const fields = issues.map((i) => ({ path: [...prefix, ...i.path.map(String)].join('.'), message: i.message }));
  const first = fields[0];
  return new AdminError('VALIDATION', first ? `${first.path || 'request'}: ${first.message}` : 'invalid request', { fields });
}
