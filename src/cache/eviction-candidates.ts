// Eviction's view of the index: whole images and stray blobs, least recently used first, with where they were pulled.
import type { Digest } from '../registry/digest.js';
import type { CacheDatabase } from './db.js';
import type { EvictionCandidate } from './ports.js';

// A manifest_refs row exists only for a stored parent (ON DELETE CASCADE), so "no row names it as a child" means
// "no stored manifest refers to it". An image's recency is that of its most recently used manifest: a pull by tag
// touches the index and one child, and the other platforms' children must not make the image look cold.
const imagesSql = `
WITH RECURSIVE
  roots(digest) AS (
    SELECT m.digest FROM manifests m
    WHERE NOT EXISTS (SELECT 1 FROM manifest_refs r WHERE r.kind = 'manifest' AND r.child = m.digest)
  ),
  tree(root, digest) AS (
    SELECT digest, digest FROM roots
    UNION
    SELECT t.root, r.child FROM tree t JOIN manifest_refs r ON r.manifest = t.digest AND r.kind = 'manifest'
  )
SELECT t.root AS digest, max(m.last_access) AS lastAccess
FROM tree t JOIN manifests m ON m.digest = t.digest
GROUP BY t.root`;

const strayBlobsSql = `
SELECT b.digest, b.last_access AS lastAccess FROM blobs b
WHERE NOT EXISTS (SELECT 1 FROM manifest_refs r WHERE r.kind = 'blob' AND r.child = b.digest)`;

type Repository = EvictionCandidate['repositories'][number];

export class EvictionCandidates {
  private readonly q;

  constructor(db: CacheDatabase) {
    this.q = {
      images: db.prepare<[], { digest: Digest; lastAccess: number }>(imagesSql),
      strayBlobs: db.prepare<[], { digest: Digest; lastAccess: number }>(strayBlobsSql),
      tags: db.prepare<[string], EvictionCandidate['tags'][number]>(
        `SELECT upstream, repository, tag FROM tags WHERE digest = ? ORDER BY upstream, repository, tag`,
      ),
      links: db.prepare<[string, string], Repository>(
        `SELECT upstream, repository FROM links WHERE kind = ? AND digest = ? ORDER BY upstream, repository`,
      ),
    };
  }

  /** Every candidate, oldest access first (ties by digest, so that a plan is deterministic). */
  list(): EvictionCandidate[] {
    const candidates: EvictionCandidate[] = [];
    for (const { digest, lastAccess } of this.q.images.all()) {
      const tags = this.q.tags.all(digest);
      const repositories = distinct([...tags, ...this.q.links.all('manifest', digest)]);
      candidates.push({ kind: 'image', digest, lastAccess, tags, repositories });
    }
    for (const { digest, lastAccess } of this.q.strayBlobs.all()) {
      candidates.push({ kind: 'blob', digest, lastAccess, tags: [], repositories: this.q.links.all('blob', digest) });
    }
    return candidates.sort((a, b) => a.lastAccess - b.lastAccess || compare(a.digest, b.digest));
  }
}

function distinct(rows: Repository[]): Repository[] {
  const seen = new Map<string, Repository>();
  for (const { upstream, repository } of rows) seen.set(`${upstream}\n${repository}`, { upstream, repository });
  return [...seen.values()];
}

const compare = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);
