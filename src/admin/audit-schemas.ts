// The admin API's shapes for the audit log (api-schemas.ts has the rest; the same rules apply: routes validate with them,
// the OpenAPI document is generated from them, the web UI imports their types).
import { z } from 'zod';

export const auditQuery = z.object({
  limit: z.coerce.number().int().min(1).max(500).default(100),
  /** Entries older than this id (the next page). */
  before: z.coerce.number().int().min(1).optional(),
});
export const auditEntry = z.object({
  id: z.number(),
  at: z.number(),
  /** session: the admin password's login session; token: an API token, named in `actor`. */
  via: z.enum(['session', 'token', 'none']),
  actor: z.string(),
  client: z.string(),
  /** `POST /api/upstreams` */
  action: z.string(),
  /** What the route does, in words. */
  summary: z.string(),
  /** What it acted on: an upstream, a user, a pin, a digest... */
  target: z.string(),
  /** The request body with secrets left out, as JSON. */
  detail: z.string().nullable(),
  /** `ok`, or the error code that refused it. */
  outcome: z.string(),
});
export const auditList = z.object({ entries: z.array(auditEntry) });

