// The admin's view into the cache: upstream -> repositories -> images (a root manifest with its child manifests and
// the stored blobs they reference), with size, last pull and pull count. Read-only queries on the index tables.
import type { CacheDatabase } from '../cache/db.js';
import { isPinned } from '../cache/eviction.js';
import type { Pin } from '../cache/pins.js';

export interface RepositorySummary {
  upstream: string;
  repository: string;
  tags: number;
  images: number;
  size: number;
  lastPulledAt: number | null;
  pulls: number;
}

export interface ImageSummary {
  digest: string;
  mediaType: string;
  tags: string[];
  size: number;
  lastPulledAt: number;
  pulls: number;
  pinned: boolean;
  platforms: string[];
}

// Roots of a repository: manifests linked or tagged under it that no stored manifest lists as a child.
const rootsSql = `
SELECT DISTINCT d.digest FROM (
  SELECT digest FROM links WHERE kind = 'manifest' AND upstream = @upstream AND repository = @repository
  UNION SELECT digest FROM tags WHERE upstream = @upstream AND repository = @repository
) d
JOIN manifests m ON m.digest = d.digest
WHERE NOT EXISTS (SELECT 1 FROM manifest_refs r WHERE r.kind = 'manifest' AND r.child = d.digest)`;

const treeSql = `
WITH RECURSIVE tree(digest) AS (
  SELECT @root
  UNION SELECT r.child FROM tree t JOIN manifest_refs r ON r.manifest = t.digest AND r.kind = 'manifest'
)
SELECT m.digest, m.size, m.last_access AS lastAccess, m.hits FROM tree t JOIN manifests m ON m.digest = t.digest`;

const treeBlobsSql = `
WITH RECURSIVE tree(digest) AS (
  SELECT @root
  UNION SELECT r.child FROM tree t JOIN manifest_refs r ON r.manifest = t.digest AND r.kind = 'manifest'
)
SELECT COALESCE(SUM(b.size), 0) AS bytes FROM blobs b
WHERE b.digest IN (SELECT r.child FROM tree t JOIN manifest_refs r ON r.manifest = t.digest AND r.kind = 'blob')`;

export class CacheBrowser {
  constructor(
    private readonly db: CacheDatabase,
    private readonly pins: () => readonly Pin[],
  ) {}

  repositories(upstream: string): RepositorySummary[] {
    const names = this.db
      .prepare(
        `SELECT repository FROM links WHERE upstream = ? UNION SELECT repository FROM tags WHERE upstream = ? ORDER BY repository`,
      )
      .all(upstream, upstream) as Array<{ repository: string }>;
    return names.map(({ repository }) => {
      const images = this.images(upstream, repository);
      const tags = (this.db.prepare('SELECT COUNT(*) AS n FROM tags WHERE upstream = ? AND repository = ?').get(upstream, repository) as { n: number }).n;
      return {
        upstream,
        repository,
        tags,
        images: images.length,
        size: images.reduce((sum, i) => sum + i.size, 0),
        lastPulledAt: images.length ? Math.max(...images.map((i) => i.lastPulledAt)) : null,
        pulls: images.reduce((sum, i) => sum + i.pulls, 0),
      };
    });
  }

  images(upstream: string, repository: string): ImageSummary[] {
    const roots = this.db.prepare(rootsSql).all({ upstream, repository }) as Array<{ digest: string }>;
    const tagsOf = this.db.prepare('SELECT tag FROM tags WHERE upstream = ? AND repository = ? AND digest = ? ORDER BY tag');
    const pins = this.pins();
    return roots
      .map(({ digest }) => {
        const manifest = this.db.prepare('SELECT media_type AS mediaType, bytes, hits FROM manifests WHERE digest = ?').get(digest) as {
          mediaType: string;
          bytes: Buffer;
          hits: number;
        };
        const tree = this.db.prepare(treeSql).all({ root: digest }) as Array<{ size: number; lastAccess: number }>;
        const blobBytes = (this.db.prepare(treeBlobsSql).get({ root: digest }) as { bytes: number }).bytes;
        const tags = (tagsOf.all(upstream, repository, digest) as Array<{ tag: string }>).map((t) => t.tag);
        const candidate = {
          kind: 'image' as const,
          digest: digest as `${string}:${string}`,
          lastAccess: 0,
          tags: tags.map((tag) => ({ upstream, repository, tag })),
          repositories: [{ upstream, repository }],
        };
        return {
          digest,
          mediaType: manifest.mediaType,
          tags,
          size: tree.reduce((sum, m) => sum + m.size, 0) + blobBytes,
          lastPulledAt: Math.max(...tree.map((m) => m.lastAccess)),
          // The fetch that stored it was a pull too; later ones are cache hits.
          pulls: manifest.hits + 1,
          pinned: isPinned(candidate as Parameters<typeof isPinned>[0], pins),
          platforms: platformsOf(manifest.bytes),
        };
      })
      .sort((a, b) => b.lastPulledAt - a.lastPulledAt);
  }

  /** Repositories and tags per upstream (for the summary table). */
  upstreamCounts(): Map<string, { repositories: number; tags: number }> {
    const rows = this.db
      .prepare(
        `SELECT upstream, COUNT(DISTINCT repository) AS repositories, (SELECT COUNT(*) FROM tags t WHERE t.upstream = l.upstream) AS tags
         FROM (SELECT upstream, repository FROM links UNION SELECT upstream, repository FROM tags) l GROUP BY upstream`,
      )
      .all() as Array<{ upstream: string; repositories: number; tags: number }>;
    return new Map(rows.map((r) => [r.upstream, { repositories: r.repositories, tags: r.tags }]));
  }
}

/** An index's platforms (`linux/amd64`, `linux/arm/v7`); none for a single-platform manifest. */
function platformsOf(bytes: Buffer): string[] {
  try {
    const doc = JSON.parse(bytes.toString('utf8')) as { manifests?: Array<{ platform?: { os?: string; architecture?: string; variant?: string } }> };
    return (doc.manifests ?? [])
      .map((m) => m.platform)
      .filter((p): p is { os: string; architecture: string; variant?: string } => !!p?.os && !!p.architecture && p.os !== 'unknown')
      .map((p) => [p.os, p.architecture, p.variant].filter(Boolean).join('/'));
  } catch {
    return [];
  }
}
