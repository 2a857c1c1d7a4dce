// Opening the cache database: pragmas for a concurrent reader/writer cache, then the pending migrations.
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import { migrations as defaultMigrations, type Migration } from './migrations.js';

export type CacheDatabase = Database.Database;

export type CacheDatabaseErrorCode = 'CACHE_DB_TOO_NEW' | 'CACHE_DB_MIGRATION_FAILED';

export class CacheDatabaseError extends Error {
  constructor(
    readonly code: CacheDatabaseErrorCode,
    message: string,
    options: { cause?: unknown } = {},
  ) {
    super(message, options);
    this.name = 'CacheDatabaseError';
  }
}

/** How long a statement waits for another connection's write lock (the CLI's `cache verify` next to a server). */
const busyTimeoutMs = 5000;

/**
 * Opens (creating if needed) the database at `path` and brings its schema up to date. `migrations` is a parameter
 * for tests; production always uses the list in migrations.ts.
 */
export function openDatabase(path: string, migrations: readonly Migration[] = defaultMigrations): CacheDatabase {
  if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true });
  const db = new Database(path, { timeout: busyTimeoutMs });
  try {
    // WAL lets readers run while a write commits; NORMAL is durable across process crashes in WAL mode (only an OS
    // crash may lose the last transactions, and the index is reconciled against the disk by `cache verify`).
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = NORMAL');
    db.pragma('foreign_keys = ON');
    db.pragma(`busy_timeout = ${busyTimeoutMs}`);
    migrate(db, migrations);
    return db;
  } catch (err) {
    db.close();
    throw err;
  }
}

export function schemaVersion(db: CacheDatabase): number {
  return db.pragma('user_version', { simple: true }) as number;
}

/** Applies every step after the database's `user_version`, each in its own transaction with its version bump. */
function migrate(db: CacheDatabase, migrations: readonly Migration[]): void {
  const current = schemaVersion(db);
  if (current > migrations.length) {
    throw new CacheDatabaseError(
      'CACHE_DB_TOO_NEW',
      `the cache database is at schema version ${current} but this Pullgate knows only up to ${migrations.length}; ` +
        'run a newer Pullgate or start with an empty data directory',
    );
  }
  for (let version = current + 1; version <= migrations.length; version++) {
    const step = migrations[version - 1];
    if (!step) break;
    try {
      // BEGIN IMMEDIATE: two processes opening the same fresh database must not both run step 1.
      db.transaction(() => {
        if (schemaVersion(db) >= version) return;
        db.exec(step.sql);
        db.pragma(`user_version = ${version}`);
      }).immediate();
    } catch (err) {
      throw new CacheDatabaseError('CACHE_DB_MIGRATION_FAILED', `cache schema step ${version} (${step.name}) failed`, {
        cause: err,
      });
    }
  }
}
