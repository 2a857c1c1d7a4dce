// `GET /v2/<name>/referrers/<digest>`, with the `artifactType` filter.
import { listReferrers } from '../../mirror/listings.js';
import type { RegistryReply } from '../../mirror/reply.js';
import type { RepositoryRoute, ResourceRequest } from './resource.js';

export async function serveReferrers(route: Extract<RepositoryRoute, { kind: 'referrers' }>, r: ResourceRequest): Promise<RegistryReply> {
  r.info.reference = route.digest;
  return listReferrers(r.ctx, route.digest, r.query.get('artifactType') ?? undefined);
}
