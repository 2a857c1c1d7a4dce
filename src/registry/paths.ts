// The /v2 path grammar (OCI distribution-spec "Endpoints" end-1 .. end-13), parsed from the raw, undecoded path:
// names, tags and digests never contain `%`, so anything percent-encoded is simply invalid.
import { RegistryError } from './errors.js';
import { parseDigest, type Digest } from './digest.js';
import { parseReference, type Reference } from './names.js';

export type V2Route =
  | { kind: 'base' }
  | { kind: 'catalog' }
  | { kind: 'manifest'; path: string; reference: Reference }
  | { kind: 'blob'; path: string; digest: Digest }
  | { kind: 'upload'; path: string }
  | { kind: 'tags'; path: string }
  | { kind: 'referrers'; path: string; digest: Digest };

/**
 * `path` is the repository path as the client sent it (it may still carry a registry prefix such as
 * `gcr.io/`); the router validates it as a repository name once the prefix is resolved.
 */
export function parseV2Path(rawPath: string): V2Route | undefined {
  if (rawPath === '/v2' || rawPath === '/v2/') return { kind: 'base' };
  if (!rawPath.startsWith('/v2/')) return undefined;
  const rest = rawPath.slice(4);
  if (rest === '_catalog') return { kind: 'catalog' };

  let m = /^(.+)\/manifests\/([^/]+)$/.exec(rest);
  if (m) return { kind: 'manifest', path: m[1]!, reference: parseReference(m[2]!) };
  m = /^(.+)\/blobs\/uploads(?:\/[^/]*)?$/.exec(rest);
  if (m) return { kind: 'upload', path: m[1]! };
  m = /^(.+)\/blobs\/([^/]+)$/.exec(rest);
  if (m) return { kind: 'blob', path: m[1]!, digest: parseDigest(m[2]!) };
  m = /^(.+)\/tags\/list$/.exec(rest);
  if (m) return { kind: 'tags', path: m[1]! };
  m = /^(.+)\/referrers\/([^/]+)$/.exec(rest);
  if (m) return { kind: 'referrers', path: m[1]!, digest: parseDigest(m[2]!) };
  throw new RegistryError('NOT_FOUND', 'unknown registry endpoint');
}
