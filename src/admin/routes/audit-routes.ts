// The audit log of admin actions, newest first (src/admin/audit-log.ts says what is recorded).
import type { AdminContext } from '../admin-context.js';
import { route, type AnyApiRoute } from '../api-kit.js';
import { auditList, auditQuery } from '../audit-schemas.js';

/** `routes`: every admin route, for the summary of each recorded action. */
export function auditRoutes(ctx: AdminContext, routes: () => readonly AnyApiRoute[]): AnyApiRoute[] {
  return [
    route({
      method: 'GET',
      url: '/api/audit',
      summary: 'Admin actions: who (session or API token), when, from where, what, and how it ended; newest first',
      tag: 'audit',
      query: auditQuery,
      response: auditList,
      handler({ query }) {
        const summaries = new Map(routes().map((r) => [`${r.method} ${r.url}`, r.summary]));
        return { entries: ctx.audit.list(query.limit, query.before, summaries) };
      },
    }),
  ];
}
