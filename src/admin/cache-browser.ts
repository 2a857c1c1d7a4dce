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

/** One stored part of an image: its index or manifests, then its config and layers (a blob once). */
export interface ImagePart {
  kind: 'index' | 'manifest' | 'config' | 'layer';
  digest: string;
  mediaType: string;
  size: number | null;
  platform?: string;
}

interface ManifestDoc {
  mediaType?: string;
  manifests?: Array<{ digest?: string; platform?: { os?: string; architecture?: string; variant?: string } }>;
  config?: { digest?: string; mediaType?: string };
  layers?: Array<{ digest?: string; mediaType?: string }>;
  blobs?: Array<{ digest?: string; mediaType?: string }>;
}

const parseDoc = (bytes: Buffer): ManifestDoc => {
  try {
    return JSON.parse(bytes.toString('utf8')) as ManifestDoc;
  } catch {
    return {};
  }
};

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

  /** The parts of one image (root manifest `digest` under `upstream/repository`), undefined when not stored there. */
  parts(upstream: string, repository: string, digest: string): { image: ImageSummary; parts: ImagePart[] } | undefined {
    const image = this.images(upstream, repository).find((i) => i.digest === digest);
    if (!image) return undefined;
    const manifest = this.db.prepare('SELECT media_type AS mediaType, bytes, size FROM manifests WHERE digest = ?');
    const blob = this.db.prepare('SELECT size FROM blobs WHERE digest = ?');
    const parts: ImagePart[] = [];
    const seenBlobs = new Set<string>();
    const visit = (d: string, platform: string | undefined): void => {
      const row = manifest.get(d) as { mediaType: string; bytes: Buffer; size: number } | undefined;
      if (!row) return;
      const doc = parseDoc(row.bytes);
      const isIndex = Array.isArray(doc.manifests);
      parts.push({ kind: isIndex ? 'index' : 'manifest', digest: d, mediaType: row.mediaType, size: row.size, ...(platform ? { platform } : {}) });
      if (isIndex) {
        for (const child of doc.manifests ?? []) {
          if (!child.digest) continue;
          const p = child.platform;
          visit(child.digest, p?.os && p.architecture ? [p.os, p.architecture, p.variant].filter(Boolean).join('/') : undefined);
        }
        return;
      }
      const blobs = [
        ...(doc.config?.digest ? [{ kind: 'config' as const, digest: doc.config.digest, mediaType: doc.config.mediaType ?? '' }] : []),
        ...[...(doc.layers ?? []), ...(doc.blobs ?? [])].filter((l) => l.digest).map((l) => ({ kind: 'layer' as const, digest: l.digest as string, mediaType: l.mediaType ?? '' })),
      ];
      for (const b of blobs) {
        if (seenBlobs.has(b.digest)) continue;
        seenBlobs.add(b.digest);
        const stored = blob.get(b.digest) as { size: number } | undefined;
        parts.push({ ...b, size: stored?.size ?? null, ...(platform ? { platform } : {}) });
      }
    };
    visit(digest, undefined);
    return { image, parts };
  }

  /** Bytes of the cached images per upstream (a blob shared by two upstreams counts for both). */
  upstreamSizes(): Map<string, number> {
    const rows = this.db
      .prepare(`SELECT upstream FROM links UNION SELECT upstream FROM tags`)
      .all() as Array<{ upstream: string }>;
    return new Map(rows.map(({ upstream }) => [upstream, this.repositories(upstream).reduce((sum, r) => sum + r.size, 0)]));
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
