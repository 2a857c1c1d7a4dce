// Watch entries added through the admin (docs/watch.md), stored in SQLite next to the config file's entries (read-only
// here). Each is checked with the config file's schema when added, so an entry the admin accepts is one the config
// file would accept; the scheduler reads both lists at every tick.
import type { z } from 'zod';
import type { CacheDatabase } from '../cache/db.js';
import { watchEntrySchema } from '../config/watch.js';
import { watchEntryId, type WatchEntry } from '../watch/watch-runner.js';
import { AdminError, validationError } from './admin-errors.js';

export type WatchEntryInput = z.input<typeof watchEntrySchema>;

export class AdminWatchEntries {
  constructor(
    private readonly db: CacheDatabase,
    /** The config file's entries, read when needed (a reload may change them). */
    private readonly fromConfig: () => readonly WatchEntry[],
    private readonly upstreamExists: (name: string) => boolean,
    private readonly clock: () => number = Date.now,
  ) {}

  /** The stored entries, parsed again; one that no longer parses (a schema change) is left out. */
  list(): WatchEntry[] {
    const rows = this.db.prepare('SELECT id, upstream, entry FROM watch_entries ORDER BY created_at, id').all() as Array<{ id: string; upstream: string; entry: string }>;
    return rows.flatMap((r) => {
      const parsed = watchEntrySchema.safeParse(JSON.parse(r.entry));
      return parsed.success ? [{ id: r.id, upstream: r.upstream, config: parsed.data }] : [];
    });
  }

  /** Adds an entry; field errors name the entry's own fields (`repository`, `every`, `tags.0`). */
  add(upstream: string, input: unknown): WatchEntry {
    if (!this.upstreamExists(upstream)) throw new AdminError('VALIDATION', `upstream: no upstream named ${upstream}`, { fields: [{ path: 'upstream', message: `no upstream named ${upstream}` }] });
    const parsed = watchEntrySchema.safeParse(input);
    if (!parsed.success) throw validationError(parsed.error.issues);
    const id = watchEntryId(upstream, parsed.data);
    if (this.fromConfig().some((e) => e.id === id)) throw new AdminError('CONFLICT', `${id} is already watched by the config file`, { fields: [{ path: 'repository', message: 'already watched by the config file' }] });
    const { changes } = this.db
      .prepare('INSERT INTO watch_entries (id, upstream, entry, created_at) VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING')
      .run(id, upstream, JSON.stringify(input), this.clock());
    if (!changes) throw new AdminError('CONFLICT', `${id} is already watched`, { fields: [{ path: 'repository', message: 'already watched' }] });
    return { id, upstream, config: parsed.data };
  }

  remove(id: string): void {
    if (this.fromConfig().some((e) => e.id === id)) throw new AdminError('READ_ONLY', `watch entry ${id} is declared in the config file; change it there`);
    const { changes } = this.db.prepare('DELETE FROM watch_entries WHERE id = ?').run(id);
    if (!changes) throw new AdminError('NOT_FOUND', `no watch entry ${id}`);
  }
}
