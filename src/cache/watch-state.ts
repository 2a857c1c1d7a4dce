// Watch lists' state in the cache index (docs/watch.md): per watched tag its current digest and when it changed,
// the history of digests (the last K per tag are kept from eviction) and the runs of each entry.
import type { Database } from 'better-sqlite3';

export interface WatchedTagRow {
  entry: string;
  upstream: string;
  repository: string;
  tag: string;
  digest: string | null;
  changedAt: number | null;
  checkedAt: number;
  bytesFetched: number;
  error: string | null;
}

export interface WatchRunRow {
  id: number;
  entry: string;
  startedAt: number;
  finishedAt: number | null;
  result: 'running' | 'ok' | 'failed' | 'held';
  changed: number;
  bytes: number;
  /** Tags matching the entry's patterns that the run left out (its `maxTags` cap). */
  skipped: number;
  message: string | null;
}

/** Runs kept per entry (the admin shows the last; the rest are history). */
export const runsPerEntry = 100;
/** Digests kept per watched tag in its history: more than the largest `keep` (100). */
export const historyPerTag = 100;

export class WatchState {
  private readonly q;

  constructor(private readonly db: Database) {
    this.q = {
      tag: db.prepare<[string, string], WatchedTagRow>(
        `SELECT entry, upstream, repository, tag, digest, changed_at AS changedAt, checked_at AS checkedAt, bytes_fetched AS bytesFetched, error
         FROM watch_tags WHERE entry = ? AND tag = ?`,
      ),
      tags: db.prepare<[string], WatchedTagRow>(
        `SELECT entry, upstream, repository, tag, digest, changed_at AS changedAt, checked_at AS checkedAt, bytes_fetched AS bytesFetched, error
         FROM watch_tags WHERE entry = ? ORDER BY tag`,
      ),
      putTag: db.prepare<[string, string, string, string, string | null, number | null, number, number, string | null]>(
        `INSERT INTO watch_tags (entry, upstream, repository, tag, digest, changed_at, checked_at, bytes_fetched, error) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
         ON CONFLICT (entry, tag) DO UPDATE SET digest = excluded.digest, changed_at = excluded.changed_at, checked_at = excluded.checked_at,
           bytes_fetched = excluded.bytes_fetched, error = excluded.error`,
      ),
      keepOnly: db.prepare<[string, string]>(`DELETE FROM watch_tags WHERE entry = ? AND tag NOT IN (SELECT value FROM json_each(?))`),
      seen: db.prepare<[string, string, string, string, number]>(
        `INSERT INTO watch_history (upstream, repository, tag, digest, seen_at) VALUES (?, ?, ?, ?, ?)
         ON CONFLICT DO UPDATE SET seen_at = max(seen_at, excluded.seen_at)`,
      ),
      history: db.prepare<[string, string, string], { digest: string; seenAt: number }>(
        `SELECT digest, seen_at AS seenAt FROM watch_history WHERE upstream = ? AND repository = ? AND tag = ? ORDER BY seen_at DESC`,
      ),
      allHistory: db.prepare<[], { upstream: string; repository: string; tag: string; digest: string }>(
        `SELECT upstream, repository, tag, digest FROM watch_history ORDER BY upstream, repository, tag, seen_at DESC`,
      ),
      startRun: db.prepare<[string, number]>(`INSERT INTO watch_runs (entry, started_at, result) VALUES (?, ?, 'running')`),
      finishRun: db.prepare<[number, string, number, number, number, string | null, number]>(
        `UPDATE watch_runs SET finished_at = ?, result = ?, changed = ?, bytes = ?, skipped = ?, message = ? WHERE id = ?`,
      ),
      runs: db.prepare<[string, number], WatchRunRow>(
        `SELECT id, entry, started_at AS startedAt, finished_at AS finishedAt, result, changed, bytes, skipped, message FROM watch_runs
         WHERE entry = ? ORDER BY started_at DESC, id DESC LIMIT ?`,
      ),
      forgetEntries: db.prepare<[string]>(`DELETE FROM watch_runs WHERE entry NOT IN (SELECT value FROM json_each(?))`),
      forgetEntryTags: db.prepare<[string]>(`DELETE FROM watch_tags WHERE entry NOT IN (SELECT value FROM json_each(?))`),
      // History of tags no entry follows now (they keep nothing from eviction), and beyond the last N of each tag.
      forgetHistory: db.prepare<[number]>(
        `DELETE FROM watch_history WHERE NOT EXISTS (SELECT 1 FROM watch_tags t WHERE t.upstream = watch_history.upstream
           AND t.repository = watch_history.repository AND t.tag = watch_history.tag)
         OR (SELECT count(*) FROM watch_history h WHERE h.upstream = watch_history.upstream AND h.repository = watch_history.repository
           AND h.tag = watch_history.tag AND h.seen_at > watch_history.seen_at) >= ?`,
      ),
      pruneRuns: db.prepare<[string, string, number]>(
        `DELETE FROM watch_runs WHERE entry = ? AND id NOT IN (SELECT id FROM watch_runs WHERE entry = ? ORDER BY id DESC LIMIT ?)`,
      ),
    };
  }

  tag(entry: string, tag: string): WatchedTagRow | undefined {
    return this.q.tag.get(entry, tag);
  }

  tags(entry: string): WatchedTagRow[] {
    return this.q.tags.all(entry);
  }

  putTag(row: WatchedTagRow): void {
    this.q.putTag.run(row.entry, row.upstream, row.repository, row.tag, row.digest, row.changedAt, row.checkedAt, row.bytesFetched, row.error);
  }

  /** Forgets the entry's tags other than `tags` (a tag that left a pattern's newest N is no longer watched). */
  keepOnlyTags(entry: string, tags: readonly string[]): void {
    this.q.keepOnly.run(entry, JSON.stringify(tags));
  }

  /** Records that `tag` pointed at `digest` (the history the last K digests are kept from). */
  seen(upstream: string, repository: string, tag: string, digest: string, at: number): void {
    this.q.seen.run(upstream, repository, tag, digest, at);
  }

  /** The last `keep` digests `tag` pointed at, newest first. */
  lastDigests(upstream: string, repository: string, tag: string, keep: number): string[] {
    return this.q.history.all(upstream, repository, tag).slice(0, keep).map((r) => r.digest);
  }

  /** Every digest within the last `keepOf(...)` of its tag, for the tags watched now: what eviction keeps. */
  retainedDigests(keepOf: (upstream: string, repository: string, tag: string) => number | undefined): Set<string> {
    const out = new Set<string>();
    const rows = this.q.allHistory.all();
    const seen = new Map<string, number>();
    for (const r of rows) {
      const keep = keepOf(r.upstream, r.repository, r.tag);
      if (keep === undefined) continue;
      const key = `${r.upstream}\n${r.repository}\n${r.tag}`;
      const n = seen.get(key) ?? 0;
      if (n < keep) out.add(r.digest);
      seen.set(key, n + 1);
    }
    return out;
  }

  startRun(entry: string, at: number): number {
    return Number(this.q.startRun.run(entry, at).lastInsertRowid);
  }

  finishRun(id: number, entry: string, at: number, r: Pick<WatchRunRow, 'result' | 'changed' | 'bytes' | 'skipped'> & { message?: string | undefined }): void {
    this.db.transaction(() => {
      this.q.finishRun.run(at, r.result, r.changed, r.bytes, r.skipped, r.message ?? null, id);
      this.q.pruneRuns.run(entry, entry, runsPerEntry);
    })();
  }

  /**
   * Forgets what belongs to no current entry (runs, tag states, the history of tags none follows) and each tag's
   * history beyond its last `historyPerTag` digests (more than any entry's `keep`).
   */
  prune(entries: readonly string[], historyPerTag: number): { runs: number; tags: number; history: number } {
    const ids = JSON.stringify(entries);
    return this.db.transaction(() => ({
      runs: this.q.forgetEntries.run(ids).changes,
      tags: this.q.forgetEntryTags.run(ids).changes,
      history: this.q.forgetHistory.run(historyPerTag).changes,
    }))();
  }

  runs(entry: string, limit = 10): WatchRunRow[] {
    return this.q.runs.all(entry, limit);
  }
}
