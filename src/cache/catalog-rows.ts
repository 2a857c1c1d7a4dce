// The local index rows the shared catalog (src/catalog) reads and writes: content another replica stored, tags with
// the validation time the bucket says, the links a tag or a recorded confirmation explains, and a log of manifests
// and tags this process deleted so that purge and eviction can delete them from the bucket too.
//
// The removal log is a TEMP table filled by TEMP triggers: per connection, never in the database file, so no
// migration and no trace in a database the CLI or a disk-storage server opens. Every path that deletes rows
// (purge, eviction, verify) is covered without each of them knowing about the bucket.
import type { Digest } from '../registry/digest.js';
import type { CacheDatabase } from './db.js';
import type { ManifestReferences } from './ports.js';

export interface LocalTag {
  upstream: string;
  repository: string;
  tag: string;
  digest: string;
  validatedAt: number;
}

export type RemovedRow = { kind: 'manifest'; digest: Digest } | { kind: 'tag'; upstream: string; repository: string; tag: string };

const removalLog = `
CREATE TEMP TABLE IF NOT EXISTS catalog_removed (kind TEXT NOT NULL, digest TEXT, upstream TEXT, repository TEXT, tag TEXT);
CREATE TEMP TRIGGER IF NOT EXISTS catalog_manifest_removed AFTER DELETE ON main.manifests
BEGIN INSERT INTO catalog_removed (kind, digest) VALUES ('manifest', old.digest); END;
CREATE TEMP TRIGGER IF NOT EXISTS catalog_tag_removed AFTER DELETE ON main.tags
BEGIN INSERT INTO catalog_removed (kind, upstream, repository, tag) VALUES ('tag', old.upstream, old.repository, old.tag); END;
`;

export class CatalogRows {
  private readonly q;

  constructor(private readonly db: CacheDatabase) {
    db.exec(removalLog);
    this.q = {
      putManifest: db.prepare<[string, string, Buffer, number, number, number]>(
        `INSERT INTO manifests (digest, media_type, bytes, size, stored_at, last_access) VALUES (?, ?, ?, ?, ?, ?)
         ON CONFLICT (digest) DO NOTHING`,
      ),
      putRef: db.prepare<[string, string, string]>(`INSERT OR IGNORE INTO manifest_refs (manifest, kind, child) VALUES (?, ?, ?)`),
      // The later confirmation wins, wherever it was made.
      putTag: db.prepare<[string, string, string, string, number]>(
        `INSERT INTO tags (upstream, repository, tag, digest, validated_at) VALUES (?, ?, ?, ?, ?)
         ON CONFLICT (upstream, repository, tag) DO UPDATE SET digest = excluded.digest, validated_at = excluded.validated_at
         WHERE excluded.validated_at > tags.validated_at`,
      ),
      tag: db.prepare<[string, string, string], LocalTag>(
        `SELECT upstream, repository, tag, digest, validated_at AS validatedAt FROM tags WHERE upstream = ? AND repository = ? AND tag = ?`,
      ),
      link: db.prepare<[string, string, string, string]>(`INSERT OR IGNORE INTO links (kind, digest, upstream, repository) VALUES (?, ?, ?, ?)`),
      hasManifest: db.prepare<[string]>(`SELECT 1 FROM manifests WHERE digest = ?`),
      putBlob: db.prepare<[string, number, number, number]>(
        `INSERT INTO blobs (digest, size, stored_at, last_access) VALUES (?, ?, ?, ?) ON CONFLICT (digest) DO NOTHING`,
      ),
      deleteBlob: db.prepare<[string]>(`DELETE FROM blobs WHERE digest = ?`),
      blobs: db.prepare<[], { digest: string; storedAt: number }>(`SELECT digest, stored_at AS storedAt FROM blobs`),
      manifests: db.prepare<[], { digest: string; storedAt: number }>(`SELECT digest, stored_at AS storedAt FROM manifests`),
      tags: db.prepare<[], LocalTag>(`SELECT upstream, repository, tag, digest, validated_at AS validatedAt FROM tags`),
      removed: db.prepare<[], { kind: string; digest: string | null; upstream: string | null; repository: string | null; tag: string | null }>(
        `SELECT kind, digest, upstream, repository, tag FROM catalog_removed`,
      ),
      clearRemoved: db.prepare(`DELETE FROM catalog_removed`),
    };
  }

  hasManifest(digest: Digest): boolean {
    return this.q.hasManifest.get(digest) !== undefined;
  }

  /** A manifest from the bucket: stored with its references, linked to nothing (a tag or a confirmation links it). */
  putManifest(m: { digest: Digest; mediaType: string; bytes: Buffer }, refs: ManifestReferences, at: number): void {
    this.db.transaction(() => {
      this.q.putManifest.run(m.digest, m.mediaType, m.bytes, m.bytes.length, at, at);
      for (const child of refs.blobs) this.q.putRef.run(m.digest, 'blob', child);
      for (const child of refs.manifests) this.q.putRef.run(m.digest, 'manifest', child);
    })();
  }

  tag(upstream: string, repository: string, tag: string): LocalTag | undefined {
    return this.q.tag.get(upstream, repository, tag);
  }

  /**
   * Sets a tag as the bucket has it, if that is newer than the local row, and links the manifest it names to the
   * repository: the tag's validation upstream confirmed that digest there. What that manifest references (child
   * manifests, blobs) is not linked: a manifest may name digests its repository never served (docs/security.md).
   * Returns whether the tag row changed.
   */
  putTag(t: LocalTag): boolean {
    return this.db.transaction(() => {
      const changed = this.q.putTag.run(t.upstream, t.repository, t.tag, t.digest, t.validatedAt).changes > 0;
      this.q.link.run('manifest', t.digest, t.upstream, t.repository);
      return changed;
    })();
  }

  /** A confirmation another replica recorded in the bucket (links/ objects). */
  link(kind: 'blob' | 'manifest', digest: Digest, upstream: string, repository: string): void {
    this.q.link.run(kind, digest, upstream, repository);
  }

  /** A blob the bucket holds: recorded without a link (its manifests' links and tags keep it). */
  putBlob(digest: Digest, size: number, at: number): void {
    this.q.putBlob.run(digest, size, at, at);
  }

  /** The blob is gone from the bucket: only its row goes, the manifests that reference it follow their own objects. */
  forgetBlob(digest: string): void {
    this.q.deleteBlob.run(digest);
  }

  localBlobs(): Array<{ digest: string; storedAt: number }> {
    return this.q.blobs.all();
  }

  localManifests(): Array<{ digest: string; storedAt: number }> {
    return this.q.manifests.all();
  }

  localTags(): LocalTag[] {
    return this.q.tags.all();
  }

  /** Manifest and tag rows deleted since the last call (purge, eviction, verify, import), and the log emptied. */
  takeRemoved(): RemovedRow[] {
    return this.db.transaction(() => {
      const rows = this.q.removed.all();
      this.q.clearRemoved.run();
      return rows.flatMap((r): RemovedRow[] => {
        if (r.kind === 'manifest' && r.digest) return [{ kind: 'manifest', digest: r.digest as Digest }];
        if (r.kind === 'tag' && r.upstream && r.repository && r.tag) return [{ kind: 'tag', upstream: r.upstream, repository: r.repository, tag: r.tag }];
        return [];
      });
    })();
  }
}
