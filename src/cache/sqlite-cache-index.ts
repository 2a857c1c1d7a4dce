// The cache index in SQLite: rows for blobs, manifests, tags and links; batched access times; purge (retention.ts)
// and eviction's view (eviction-candidates.ts).
import type { Digest } from '../registry/digest.js';
import type { CacheDatabase } from './db.js';
import { EvictionCandidates } from './eviction-candidates.js';
import type {
  BlobRow,
  CacheIndex,
  CacheTotals,
  EvictionCandidate,
  ManifestReferences,
  ManifestRow,
  PurgeResult,
  PurgeTarget,
  TagRow,
} from './ports.js';
import { Retention } from './retention.js';

export interface SqliteCacheIndexOptions {
  /** How often batched touches are written (default 1000 ms). */
  flushIntervalMs?: number;
  /** A timed flush that failed (the touches are kept and retried); access times are not worth crashing for. */
  onFlushError?: (err: unknown) => void;
}

type Kind = 'blob' | 'manifest';

/** Touches not yet written: latest access and how many hits since the last flush. */
interface PendingTouch {
  kind: Kind;
  digest: Digest;
  lastAccess: number;
  hits: number;
}

export class SqliteCacheIndex implements CacheIndex {
  private readonly q;
  private readonly retention: Retention;
  private readonly candidates: EvictionCandidates;
  private pending = new Map<string, PendingTouch>();
  private readonly timer: NodeJS.Timeout;
  private closed = false;

  constructor(
    private readonly db: CacheDatabase,
    private readonly clock: () => number,
    private readonly options: SqliteCacheIndexOptions = {},
  ) {
    this.q = {
      blob: db.prepare<[string], BlobRow>(
        `SELECT digest, size, stored_at AS storedAt, last_access AS lastAccess, hits FROM blobs WHERE digest = ?`,
      ),
      putBlob: db.prepare<[string, number, number, number]>(
        `INSERT INTO blobs (digest, size, stored_at, last_access) VALUES (?, ?, ?, ?) ON CONFLICT (digest) DO NOTHING`,
      ),
      manifest: db.prepare<[string], ManifestRow>(
        `SELECT digest, media_type AS mediaType, bytes, stored_at AS storedAt, last_access AS lastAccess, hits
         FROM manifests WHERE digest = ?`,
      ),
      // The same digest is the same bytes: a second put keeps the first row (and its access history).
      putManifest: db.prepare<[string, string, Buffer, number, number, number]>(
        `INSERT INTO manifests (digest, media_type, bytes, size, stored_at, last_access) VALUES (?, ?, ?, ?, ?, ?)
         ON CONFLICT (digest) DO NOTHING`,
      ),
      putRef: db.prepare<[string, Kind, string]>(
        `INSERT OR IGNORE INTO manifest_refs (manifest, kind, child) VALUES (?, ?, ?)`,
      ),
      link: db.prepare<[Kind, string, string, string]>(
        `INSERT OR IGNORE INTO links (kind, digest, upstream, repository) VALUES (?, ?, ?, ?)`,
      ),
      isLinked: db.prepare<[string, string, Kind, string]>(
        `SELECT 1 FROM links WHERE upstream = ? AND repository = ? AND kind = ? AND digest = ?`,
      ),
      tag: db.prepare<[string, string, string], TagRow>(
        `SELECT upstream, repository, tag, digest, validated_at AS validatedAt FROM tags
         WHERE upstream = ? AND repository = ? AND tag = ?`,
      ),
      putTag: db.prepare<[string, string, string, string, number]>(
        `INSERT INTO tags (upstream, repository, tag, digest, validated_at) VALUES (?, ?, ?, ?, ?)
         ON CONFLICT (upstream, repository, tag) DO UPDATE SET digest = excluded.digest, validated_at = excluded.validated_at`,
      ),
      // max(): a flush never moves an access time backwards (touches from a clock that was set back).
      touchBlob: db.prepare<[number, number, string]>(
        `UPDATE blobs SET last_access = max(last_access, ?), hits = hits + ? WHERE digest = ?`,
      ),
      touchManifest: db.prepare<[number, number, string]>(
        `UPDATE manifests SET last_access = max(last_access, ?), hits = hits + ? WHERE digest = ?`,
      ),
      totals: db.prepare<[], CacheTotals>(
        `SELECT (SELECT count(*) FROM blobs) AS blobs, (SELECT coalesce(sum(size), 0) FROM blobs) AS blobBytes,
                (SELECT count(*) FROM manifests) AS manifests,
                (SELECT coalesce(sum(size), 0) FROM manifests) AS manifestBytes,
                (SELECT count(*) FROM tags) AS tags`,
      ),
      blobDigests: db.prepare<[], Digest>(`SELECT digest FROM blobs ORDER BY digest`).pluck(),
      isReferenced: db.prepare<[string]>(`SELECT 1 FROM manifest_refs WHERE kind = 'blob' AND child = ? LIMIT 1`),
    };
    this.retention = new Retention(db);
    this.candidates = new EvictionCandidates(db);
    this.timer = setInterval(() => this.timedFlush(), options.flushIntervalMs ?? 1000);
    this.timer.unref();
  }

  blob(digest: Digest): BlobRow | undefined {
    return this.q.blob.get(digest);
  }

  putBlob(digest: Digest, size: number, upstream: string, repository: string): void {
    const now = this.clock();
    this.db.transaction(() => {
      this.q.putBlob.run(digest, size, now, now);
      this.q.link.run('blob', digest, upstream, repository);
    })();
  }

  linkBlob(digest: Digest, upstream: string, repository: string): void {
    this.q.link.run('blob', digest, upstream, repository);
  }

  isBlobLinked(digest: Digest, upstream: string, repository: string): boolean {
    return this.q.isLinked.get(upstream, repository, 'blob', digest) !== undefined;
  }

  manifest(digest: Digest): ManifestRow | undefined {
    return this.q.manifest.get(digest);
  }

  putManifest(
    m: { digest: Digest; mediaType: string; bytes: Buffer },
    refs: ManifestReferences,
    upstream: string,
    repository: string,
  ): void {
    const now = this.clock();
    this.db.transaction(() => {
      this.q.putManifest.run(m.digest, m.mediaType, m.bytes, m.bytes.length, now, now);
      for (const child of refs.blobs) this.q.putRef.run(m.digest, 'blob', child);
      for (const child of refs.manifests) this.q.putRef.run(m.digest, 'manifest', child);
      this.q.link.run('manifest', m.digest, upstream, repository);
    })();
  }

  linkManifest(digest: Digest, upstream: string, repository: string): void {
    this.q.link.run('manifest', digest, upstream, repository);
  }

  isManifestLinked(digest: Digest, upstream: string, repository: string): boolean {
    return this.q.isLinked.get(upstream, repository, 'manifest', digest) !== undefined;
  }

  tag(upstream: string, repository: string, tag: string): TagRow | undefined {
    return this.q.tag.get(upstream, repository, tag);
  }

  putTag(upstream: string, repository: string, tag: string, digest: Digest): void {
    this.q.putTag.run(upstream, repository, tag, digest, this.clock());
  }

  /** Memory only: a cache hit never waits on a write. Lost on a crash, which costs only recency. */
  touch(kind: Kind, digest: Digest): void {
    if (this.closed) return;
    const key = `${kind} ${digest}`;
    const now = this.clock();
    const entry = this.pending.get(key);
    if (entry) {
      entry.lastAccess = Math.max(entry.lastAccess, now);
      entry.hits += 1;
    } else {
      this.pending.set(key, { kind, digest, lastAccess: now, hits: 1 });
    }
  }

  /** Writes every pending touch in one transaction; on failure they stay pending (merged with newer ones). */
  flush(): void {
    if (this.pending.size === 0) return;
    const batch = this.pending;
    this.pending = new Map();
    try {
      this.db.transaction(() => {
        for (const t of batch.values()) {
          (t.kind === 'blob' ? this.q.touchBlob : this.q.touchManifest).run(t.lastAccess, t.hits, t.digest);
        }
      })();
    } catch (err) {
      for (const [key, t] of batch) {
        const newer = this.pending.get(key);
        this.pending.set(key, newer ? { ...t, lastAccess: Math.max(t.lastAccess, newer.lastAccess), hits: t.hits + newer.hits } : t);
      }
      throw err;
    }
  }

  totals(): CacheTotals {
    return this.q.totals.get() ?? { blobs: 0, blobBytes: 0, manifests: 0, manifestBytes: 0, tags: 0 };
  }

  purge(target: PurgeTarget): PurgeResult {
    return this.retention.purge(target);
  }

  evictionCandidates(): EvictionCandidate[] {
    this.flush();
    return this.candidates.list();
  }

  blobDigests(): Digest[] {
    return this.q.blobDigests.all();
  }

  adoptBlob(digest: Digest, size: number): boolean {
    return this.db.transaction(() => {
      if (this.q.isReferenced.get(digest) === undefined) return false;
      const now = this.clock();
      this.q.putBlob.run(digest, size, now, now);
      return true;
    })();
  }

  /** Writes pending touches and stops the timer. The database belongs to whoever opened it and stays open. */
  close(): void {
    if (this.closed) return;
    clearInterval(this.timer);
    this.flush();
    this.closed = true;
  }

  private timedFlush(): void {
    try {
      this.flush();
    } catch (err) {
      this.options.onFlushError?.(err);
    }
  }
}
