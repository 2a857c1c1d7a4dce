// Why an edit of a live source was refused: an upstream or a passthrough route added, changed or removed at run
// time (upstream/upstream-sources.ts, server/passthrough-sources.ts). Stable codes with the fields at fault; the
// admin maps them onto its own errors and HTTP at its edge (admin/admin-server.ts), once.

export type SourceEditCode = 'VALIDATION' | 'NOT_FOUND' | 'CONFLICT' | 'READ_ONLY';

export interface FieldProblem {
  path: string;
  message: string;
}

export class SourceEditError extends Error {
  constructor(
    readonly code: SourceEditCode,
    message: string,
    readonly fields?: FieldProblem[],
  ) {
    super(message);
    this.name = 'SourceEditError';
  }
}

/** zod issues as a VALIDATION refusal, with dotted paths (`auth.username`, `hosts.0`). */
export function invalidFields(issues: ReadonlyArray<{ path: ReadonlyArray<PropertyKey>; message: string }>, prefix: string[] = []): SourceEditError {
  const fields = issues.map((i) => ({ path: [...prefix, ...i.path.map(String)].join('.'), message: i.message }));
  const first = fields[0];
  return new SourceEditError('VALIDATION', first ? `${first.path || 'request'}: ${first.message}` : 'invalid request', fields);
}
