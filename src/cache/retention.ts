// What the cache keeps, and purge: removing roots (tags, links) or content, then whatever nothing keeps any more.
//
// Retention rule. Roots are tags and links. A manifest is kept while a tag points at it, a link names it, or a kept
// manifest (an index) refers to it; a blob is kept while a kept manifest references it or a link names it. Every
// put links what it stores, so nothing is collected between a fill and its tag.
//
// A link inside the closure of another root of the same (upstream, repository) is "explained" by that root: a
// tag pull links the index, its child and the layers too, and those links are part of the tag's image, not pulls
// by digest of their own. Removing a root therefore removes the links it explains, unless another remaining root of
// that repository also explains them. (A digest that was both pulled by tag and separately by digest in the same
// repository cannot be told apart from the tag's image; it goes with the tag.)
//
// A tag that moves leaves its old image linked: it is no longer tagged but still pulled-by-digest content, and ages
// out by eviction (least recently used) or goes with a purge of its repository.
import type { Digest } from '../registry/digest.js';
import type { CacheDatabase } from './db.js';
import type { PurgeResult, PurgeTarget } from './ports.js';

type Kind = 'blob' | 'manifest';
interface Item {
  kind: Kind;
  digest: string;
}
interface Repository {
  upstream: string;
  repository: string;
}

const itemKey = (item: Item): string => `${item.kind} ${item.digest}`;
const manifestItem = (digest: string): Item => ({ kind: 'manifest', digest });

/** Roots to drop in one repository. */
interface DroppedRoots extends Repository {
  tags: string[];
  links: Item[];
}

export class Retention {
  private readonly q;

  constructor(private readonly db: CacheDatabase) {
    const all = <R>(sql: string) => db.prepare<unknown[], R>(sql);
    this.q = {
      children: all<Item>(`SELECT kind, child AS digest FROM manifest_refs WHERE manifest = ?`),
      tagsIn: all<{ tag: string; digest: string }>(`SELECT tag, digest FROM tags WHERE upstream = ? AND repository = ?`),
      linksIn: all<Item>(`SELECT kind, digest FROM links WHERE upstream = ? AND repository = ?`),
      tagDigest: all<{ digest: string }>(`SELECT digest FROM tags WHERE upstream = ? AND repository = ? AND tag = ?`),
      tagsAt: all<Repository & { tag: string }>(`SELECT upstream, repository, tag FROM tags WHERE digest = ?`),
      linksTo: all<Repository>(`SELECT upstream, repository FROM links WHERE kind = ? AND digest = ?`),
      upstreamTags: all<{ digest: string }>(`SELECT digest FROM tags WHERE upstream = ?`),
      upstreamLinks: all<Item>(`SELECT kind, digest FROM links WHERE upstream = ?`),
      deleteTag: all(`DELETE FROM tags WHERE upstream = ? AND repository = ? AND tag = ?`),
      deleteLink: all(`DELETE FROM links WHERE upstream = ? AND repository = ? AND kind = ? AND digest = ?`),
      deleteRepositoryTags: all(`DELETE FROM tags WHERE upstream = ? AND repository = ?`),
      deleteRepositoryLinks: all(`DELETE FROM links WHERE upstream = ? AND repository = ?`),
      deleteUpstreamTags: all(`DELETE FROM tags WHERE upstream = ?`),
      deleteUpstreamLinks: all(`DELETE FROM links WHERE upstream = ?`),
      deleteTagsAt: all(`DELETE FROM tags WHERE digest = ?`),
      deleteLinksTo: all(`DELETE FROM links WHERE kind = ? AND digest = ?`),
      blobReferrers: all<{ manifest: string }>(`SELECT manifest FROM manifest_refs WHERE kind = 'blob' AND child = ?`),
      manifestSize: all<{ size: number }>(`SELECT size FROM manifests WHERE digest = ?`),
      blobSize: all<{ size: number }>(`SELECT size FROM blobs WHERE digest = ?`),
      deleteManifest: all(`DELETE FROM manifests WHERE digest = ?`),
      deleteBlob: all(`DELETE FROM blobs WHERE digest = ?`),
      isTagged: all(`SELECT 1 FROM tags WHERE digest = ? LIMIT 1`),
      isLinked: all(`SELECT 1 FROM links WHERE kind = ? AND digest = ? LIMIT 1`),
      isReferenced: all(`SELECT 1 FROM manifest_refs WHERE kind = ? AND child = ? LIMIT 1`),
    };
  }

  /** Purges in one transaction; see the file comment for what "what only it kept" means. */
  purge(target: PurgeTarget): PurgeResult {
    return this.db.transaction((): PurgeResult => {
      const result: PurgeResult = { manifests: 0, blobs: 0, tags: 0, bytes: 0, removedBlobs: [] };
      let candidates: Map<string, Item>;
      if ('digest' in target) {
        candidates = this.removeContent(target.digest, result);
      } else if ('tag' in target) {
        const row = this.q.tagDigest.get(target.upstream, target.repository, target.tag);
        if (!row) return result;
        candidates = this.dropRoots({ ...target, tags: [target.tag], links: [] }, new Set(), result);
      } else if ('repository' in target) {
        const seeds = [
          ...this.q.tagsIn.all(target.upstream, target.repository).map((t) => manifestItem(t.digest)),
          ...this.q.linksIn.all(target.upstream, target.repository),
        ];
        result.tags += this.q.deleteRepositoryTags.run(target.upstream, target.repository).changes;
        this.q.deleteRepositoryLinks.run(target.upstream, target.repository);
        candidates = this.closure(seeds);
      } else {
        const seeds = [
          ...this.q.upstreamTags.all(target.upstream).map((t) => manifestItem(t.digest)),
          ...this.q.upstreamLinks.all(target.upstream),
        ];
        result.tags += this.q.deleteUpstreamTags.run(target.upstream).changes;
        this.q.deleteUpstreamLinks.run(target.upstream);
        candidates = this.closure(seeds);
      }
      this.collect(candidates, result);
      return result;
    })();
  }

  /**
   * Removes a manifest or blob whatever keeps it. A removed blob takes every manifest that references it along
   * (never a manifest whose blobs are gone); an index that refers to a removed manifest stays (an index whose
   * children are not all cached is normal: a pull of one platform never fetches the others).
   */
  private removeContent(digest: Digest, result: PurgeResult): Map<string, Item> {
    const forced = new Set<string>([digest]);
    const blobStored = this.q.blobSize.get(digest) !== undefined;
    if (blobStored) for (const r of this.q.blobReferrers.all(digest)) forced.add(r.manifest);

    const dropped = new Map<string, DroppedRoots>();
    const roots = (r: Repository): DroppedRoots => {
      const key = `${r.upstream}\n${r.repository}`;
      let entry = dropped.get(key);
      if (!entry) dropped.set(key, (entry = { upstream: r.upstream, repository: r.repository, tags: [], links: [] }));
      return entry;
    };
    for (const m of forced) {
      for (const t of this.q.tagsAt.all(m)) roots(t).tags.push(t.tag);
      for (const l of this.q.linksTo.all('manifest', m)) roots(l).links.push(manifestItem(m));
    }
    for (const l of this.q.linksTo.all('blob', digest)) roots(l).links.push({ kind: 'blob', digest });

    const candidates = this.closure([...[...forced].map(manifestItem), { kind: 'blob', digest }]);
    for (const r of dropped.values()) this.dropRoots(r, forced, result, candidates);
    for (const m of forced) {
      result.tags += this.q.deleteTagsAt.run(m).changes;
      this.q.deleteLinksTo.run('manifest', m);
      this.removeManifest(m, result);
    }
    this.q.deleteLinksTo.run('blob', digest);
    if (blobStored) this.removeBlob(digest, result);
    return candidates;
  }

  /**
   * Drops tags and links of one repository, with the links they explain that no remaining root of the repository
   * also explains. `blocked` manifests are being removed: they explain nothing any more. Returns what may have lost
   * its last root, for collect().
   */
  private dropRoots(
    roots: DroppedRoots,
    blocked: ReadonlySet<string>,
    result: PurgeResult,
    into = new Map<string, Item>(),
  ): Map<string, Item> {
    const { upstream, repository } = roots;
    const tags = this.q.tagsIn.all(upstream, repository);
    const links = this.q.linksIn.all(upstream, repository);
    const droppedTags = new Set(roots.tags);
    const dropped = this.closure([
      ...tags.filter((t) => droppedTags.has(t.tag)).map((t) => manifestItem(t.digest)),
      ...roots.links,
    ]);
    const remaining = [
      ...tags.filter((t) => !droppedTags.has(t.tag)).map((t) => manifestItem(t.digest)),
      ...links.filter((l) => !dropped.has(itemKey(l))),
    ];
    const stillExplained = this.closure(remaining, blocked);
    for (const link of links) {
      const key = itemKey(link);
      if (dropped.has(key) && !stillExplained.has(key)) {
        this.q.deleteLink.run(upstream, repository, link.kind, link.digest);
      }
    }
    for (const tag of droppedTags) result.tags += this.q.deleteTag.run(upstream, repository, tag).changes;
    for (const [key, item] of dropped) into.set(key, item);
    return into;
  }

  /** The items reachable from `seeds` through manifest references; blocked manifests are not entered. */
  private closure(seeds: Item[], blocked: ReadonlySet<string> = new Set()): Map<string, Item> {
    const seen = new Map<string, Item>();
    const queue = [...seeds];
    for (let item = queue.pop(); item; item = queue.pop()) {
      const key = itemKey(item);
      if (seen.has(key) || (item.kind === 'manifest' && blocked.has(item.digest))) continue;
      seen.set(key, item);
      if (item.kind === 'manifest') queue.push(...this.q.children.all(item.digest));
    }
    return seen;
  }

  /**
   * Removes the candidates nothing keeps. Manifests first, repeatedly, since removing an index can leave its children
   * without a parent; then blobs, against the manifests that remain.
   */
  private collect(candidates: Map<string, Item>, result: PurgeResult): void {
    const manifests = [...candidates.values()].filter((i) => i.kind === 'manifest').map((i) => i.digest);
    for (let changed = true; changed; ) {
      changed = false;
      for (const m of manifests) {
        if (this.q.isTagged.get(m) || this.q.isLinked.get('manifest', m) || this.q.isReferenced.get('manifest', m)) {
          continue;
        }
        if (this.removeManifest(m, result)) changed = true;
      }
    }
    for (const item of candidates.values()) {
      if (item.kind !== 'blob') continue;
      if (this.q.isLinked.get('blob', item.digest) || this.q.isReferenced.get('blob', item.digest)) continue;
      this.removeBlob(item.digest, result);
    }
  }

  private removeManifest(digest: string, result: PurgeResult): boolean {
    const row = this.q.manifestSize.get(digest);
    if (!row) return false;
    this.q.deleteManifest.run(digest); // its manifest_refs go by ON DELETE CASCADE
    result.manifests += 1;
    result.bytes += row.size;
    return true;
  }

  private removeBlob(digest: string, result: PurgeResult): void {
    const row = this.q.blobSize.get(digest);
    if (!row) return;
    this.q.deleteBlob.run(digest);
    result.blobs += 1;
    result.bytes += row.size;
    result.removedBlobs.push(digest as Digest);
  }
}
