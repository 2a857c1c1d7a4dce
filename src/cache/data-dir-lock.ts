// One running server per data directory (docs/operating.md, "One server per data directory"): two servers on one
// directory would clear each other's shared rows (workers.db) and partial fills at start and write one index at once.
// The server (the one process, or the supervisor of several workers, which holds it for its workers) holds an OS
// lock on `pullgate.lock` for its life: the write lock of an SQLite transaction it keeps open. The OS drops it with
// the process, however it ends (SIGKILL included), so no stale lock is ever left behind, unlike a PID file alone
// (PIDs are reused). The file also names the holding process, written just before it holds the lock, so that a
// refused start can say which process holds the directory.
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import Database from 'better-sqlite3';

export const lockFileName = 'pullgate.lock';

/** Another running server holds the data directory. */
export class DataDirInUseError extends Error {
  readonly code = 'DATA_DIR_IN_USE';
  constructor(
    readonly dataDir: string,
    readonly holder: number | undefined,
  ) {
    super(`the data directory ${dataDir} is in use by another pullgate (${holder ? `pid ${holder}` : 'pid unknown'}); stop it or give this one its own data directory`);
  }
}

export interface DataDirLock {
  /** Gives the directory back (the process's exit does too). */
  release(): void;
}

/** How long a refused start waits for the holder's pid when the holder took the lock that very moment. */
const holderWaitMs = 2_000;

/** The locks this process holds (a lock's connection must live as long as the process holds it). */
const held = new Set<Database.Database>();

/**
 * Holds `dataDir` for this process, or throws DataDirInUseError. A missing directory is made first, its user's only
 * (docs/security.md, "Secrets the admin keeps").
 */
export async function lockDataDir(dataDir: string): Promise<DataDirLock> {
  await mkdir(dataDir, { recursive: true, mode: 0o700 });
  const db = new Database(join(dataDir, lockFileName), { timeout: holderWaitMs });
  try {
    db.pragma('journal_mode = DELETE');
    db.exec('CREATE TABLE IF NOT EXISTS holder (one INTEGER PRIMARY KEY CHECK (one = 1), pid INTEGER NOT NULL, since INTEGER NOT NULL)');
    // Taken without waiting: a running holder keeps it for its life.
    db.pragma('busy_timeout = 0');
    if (!begin(db)) throw new DataDirInUseError(dataDir, holderPid(db));
    db.pragma(`busy_timeout = ${holderWaitMs}`);
    db.prepare('INSERT OR REPLACE INTO holder (one, pid, since) VALUES (1, ?, ?)').run(process.pid, Date.now());
    db.exec('COMMIT');
    // Between the commit and this, another start may have taken it: then it is that one's.
    db.pragma('busy_timeout = 0');
    if (!begin(db)) throw new DataDirInUseError(dataDir, holderPid(db));
  } catch (err) {
    db.close();
    throw err;
  }
  held.add(db);
  return {
    release: () => {
      held.delete(db);
      db.close();
    },
  };
}

/** BEGIN IMMEDIATE: the write lock, kept while the transaction stays open; false when another connection has it. */
function begin(db: Database.Database): boolean {
  try {
    db.exec('BEGIN IMMEDIATE');
    return true;
  } catch (err) {
    if ((err as { code?: string }).code === 'SQLITE_BUSY') return false;
    throw err;
  }
}

/** The holder's pid as it wrote it (another start that took the lock this moment writes its own within a moment). */
function holderPid(db: Database.Database): number | undefined {
  db.pragma(`busy_timeout = ${holderWaitMs}`);
  const deadline = Date.now() + holderWaitMs;
  for (;;) {
    const pid = (db.prepare('SELECT pid FROM holder').get() as { pid: number } | undefined)?.pid;
    if ((pid !== undefined && pid !== process.pid) || Date.now() > deadline) return pid === process.pid ? undefined : pid;
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 50);
  }
}
