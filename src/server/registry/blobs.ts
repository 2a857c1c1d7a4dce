// `GET|HEAD /v2/<name>/blobs/<digest>`: the client's Range goes to the blob use case.
import { getBlob } from '../../mirror/blobs.js';
import type { RegistryReply } from '../../mirror/reply.js';
import type { RepositoryRoute, ResourceRequest } from './resource.js';

export async function serveBlob(route: Extract<RepositoryRoute, { kind: 'blob' }>, r: ResourceRequest): Promise<RegistryReply> {
  r.info.reference = route.digest;
  const range = r.headers.range;
  return getBlob(r.services, r.ctx, { method: r.method, digest: route.digest, ...(range !== undefined ? { range } : {}) });
}
