// `GET|HEAD /v2/<name>/manifests/<reference>`: the client's Accept and If-None-Match go to the manifest use case.
import { getManifest } from '../../mirror/manifests.js';
import type { RegistryReply } from '../../mirror/reply.js';
import type { RepositoryRoute, ResourceRequest } from './resource.js';

export async function serveManifest(route: Extract<RepositoryRoute, { kind: 'manifest' }>, r: ResourceRequest): Promise<RegistryReply> {
  r.info.reference = route.reference.kind === 'tag' ? route.reference.tag : route.reference.digest;
  const ifNoneMatch = r.headers['if-none-match'];
  return getManifest(r.services, r.ctx, {
    method: r.method,
    reference: route.reference,
    accept: r.headers.accept,
    ...(ifNoneMatch ? { ifNoneMatch } : {}),
  });
}
