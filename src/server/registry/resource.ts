// What a resource handler (manifests.ts, blobs.ts, tags.ts, referrers.ts) is given: a request to one repository
// that has been routed to its upstream and admitted.
import type { IncomingHttpHeaders } from 'node:http';
import type { MirrorServices } from '../../mirror/services.js';
import type { PullContext } from '../../mirror/reply.js';
import type { V2Route } from '../../registry/paths.js';
import type { AccessInfo } from '../access-log.js';

export interface ResourceRequest {
  services: MirrorServices;
  ctx: PullContext;
  method: 'GET' | 'HEAD';
  headers: IncomingHttpHeaders;
  query: URLSearchParams;
  /** The access line: a handler names the reference it serves there. */
  info: AccessInfo;
}

/** A request to one repository's manifests, blobs, tags or referrers. */
export type RepositoryRoute = Extract<V2Route, { kind: 'manifest' | 'blob' | 'tags' | 'referrers' }>;
