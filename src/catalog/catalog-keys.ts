// Where the shared catalog lives in the bucket (docs/storage.md, "The shared catalog"), next to the blobs
// (`<prefix>blobs/...`, s3-blob-store.ts):
//
//   <prefix>manifests/<algorithm>/<first two hex>/<hex>          the manifest's exact bytes; Content-Type = its media type
//   <prefix>tags/<upstream>/<repository>/_tags/<tag>             JSON {digest, validatedAt, replica}
//   <prefix>links/<upstream>/<repository>/_<kind>s/<algorithm>/<hex>   JSON {replica, at}: the upstream confirmed that
//                                                                the repository holds the digest (blob or manifest)
//   <prefix>replicas/<replica id>                                JSON heartbeat (replica-heartbeats.ts)
//
// Unambiguous by the grammars: an upstream name has no `/` (schema.ts), a repository component never starts with
// `_` (distribution-spec name grammar), a tag has no `/`. So the first segment after `tags/` is the upstream, the
// one `/_tags/` separates the repository from the tag, and listing `tags/<upstream>/<repository>/_tags/` gives
// exactly one repository's tags (never those of `<repository>/more`). Every key is re-parsed when read back:
// a stray or hostile object in the bucket is skipped, never trusted.
import { digestOfContentPath } from '../cache/content-path.js';
import { digestAlgorithm, digestHex, parseDigest, type Digest } from '../registry/digest.js';
import { isRepositoryName, isTag } from '../registry/names.js';

const upstreamName = /^[a-z0-9][a-z0-9_-]{0,62}$/;
const replicaId = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

export interface TagKey {
  upstream: string;
  repository: string;
  tag: string;
}

export class CatalogKeys {
  constructor(readonly prefix: string) {}

  get manifestsRoot(): string {
    return `${this.prefix}manifests/`;
  }

  get tagsRoot(): string {
    return `${this.prefix}tags/`;
  }

  get linksRoot(): string {
    return `${this.prefix}links/`;
  }

  /** Where a replica records that `upstream` confirmed `digest` (a blob or a manifest) under `repository`. */
  link(kind: 'blob' | 'manifest', digest: Digest, upstream: string, repository: string): string {
    if (!upstreamName.test(upstream) || !isRepositoryName(repository)) throw new Error(`not a catalog repository: ${upstream} ${repository}`);
    const checked = parseDigest(digest);
    return `${this.linksRoot}${upstream}/${repository}/_${kind}s/${digestAlgorithm(checked)}/${digestHex(checked)}`;
  }

  get replicasRoot(): string {
    return `${this.prefix}replicas/`;
  }

  /** Re-parses the digest: a cast string must not become a key outside the prefix. */
  manifest(digest: Digest): string {
    const checked = parseDigest(digest);
    const hex = digestHex(checked);
    return `${this.manifestsRoot}${digestAlgorithm(checked)}/${hex.slice(0, 2)}/${hex}`;
  }

  /** The prefix listing one repository's tags. */
  repositoryTags(upstream: string, repository: string): string {
    if (!upstreamName.test(upstream) || !isRepositoryName(repository)) throw new Error(`not a catalog repository: ${upstream} ${repository}`);
    return `${this.tagsRoot}${upstream}/${repository}/_tags/`;
  }

  tag(t: TagKey): string {
    if (!isTag(t.tag)) throw new Error(`not a tag: ${t.tag}`);
    return `${this.repositoryTags(t.upstream, t.repository)}${t.tag}`;
  }

  replica(id: string): string {
    if (!replicaId.test(id)) throw new Error(`not a replica id: ${id}`);
    return `${this.replicasRoot}${id}`;
  }

  /** The digest a `manifests/` key names, or undefined for anything else. */
  manifestOf(key: string): Digest | undefined {
    if (!key.startsWith(this.manifestsRoot)) return undefined;
    return digestOfContentPath(key.slice(this.manifestsRoot.length));
  }

  /** The (upstream, repository, tag) a `tags/` key names, or undefined for anything else. */
  tagOf(key: string): TagKey | undefined {
    if (!key.startsWith(this.tagsRoot)) return undefined;
    const rest = key.slice(this.tagsRoot.length);
    const slash = rest.indexOf('/');
    const marker = rest.indexOf('/_tags/');
    if (slash <= 0 || marker <= slash || rest.indexOf('/_tags/', marker + 1) !== -1) return undefined;
    const upstream = rest.slice(0, slash);
    const repository = rest.slice(slash + 1, marker);
    const tag = rest.slice(marker + '/_tags/'.length);
    if (!upstreamName.test(upstream) || !isRepositoryName(repository) || !isTag(tag)) return undefined;
    return { upstream, repository, tag };
  }

  /** The replica id a `replicas/` key names, or undefined. */
  replicaOf(key: string): string | undefined {
    if (!key.startsWith(this.replicasRoot)) return undefined;
    const id = key.slice(this.replicasRoot.length);
    return replicaId.test(id) ? id : undefined;
  }
}
