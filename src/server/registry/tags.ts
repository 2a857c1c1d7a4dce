// `GET /v2/<name>/tags/list`, with the `n` and `last` pagination parameters.
import { listTags } from '../../mirror/listings.js';
import type { RegistryReply } from '../../mirror/reply.js';
import type { ResourceRequest } from './resource.js';

export async function serveTags(r: ResourceRequest): Promise<RegistryReply> {
  const n = r.query.get('n') ?? undefined;
  const last = r.query.get('last') ?? undefined;
  return listTags(r.ctx, { ...(n !== undefined ? { n } : {}), ...(last !== undefined ? { last } : {}) });
}
