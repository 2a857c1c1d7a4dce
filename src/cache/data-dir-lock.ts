// One running server per data directory (docs/operating.md, "One server per data directory"): two servers on one
// directory would clear each other's shared rows (workers.db) and partial fills at start and write one index at once.
// The server (the one process, or the supervisor of several workers, which holds it for its workers) holds an OS
// lock on `pullgate.lock` for its life: the write lock of an SQLite transaction it keeps open. The OS drops it with
// the process, however it ends (SIGKILL included), so no stale lock is ever left behind, unlike a PID file alone
// (PIDs are reused). The file also names the holding process, written just before it holds the lock, so that a
// refused start can say which process holds the directory. The supervisor's workers each hold a read lock on the same
// file for their lives, and a start must write its row (an exclusive lock) to hold the directory: so a start cannot
// hold it while any worker of an earlier supervisor still runs, even one whose supervisor was SIGKILLed.
import { randomUUID } from 'node:crypto';
import { statSync, watch, type FSWatcher } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import type { Logger } from 'pino';

export const lockFileName = 'pullgate.lock';

/** The data directory could not be held: another server holds it, or its lock file cannot be one. */
export class DataDirLockError extends Error {}

/** The lock file cannot be opened or is not an SQLite file (another program's file, a directory): named, left alone. */
export class DataDirLockFileError extends DataDirLockError {
  readonly code = 'DATA_DIR_LOCK_FILE';
  constructor(
    readonly file: string,
    cause: Error,
  ) {
    super(`cannot lock the data directory: ${file}: ${cause.message}`, { cause });
  }
}

/** Who holds the data directory: its process, and the host name it saw (containers sharing a volume). */
export interface DataDirHolder {
  pid: number;
  host: string;
}

/** Another running server holds the data directory. */
export class DataDirInUseError extends DataDirLockError {
  readonly code = 'DATA_DIR_IN_USE';
  constructor(
    readonly dataDir: string,
    readonly holder: DataDirHolder | undefined,
  ) {
    super(`the data directory ${dataDir} is in use by another pullgate (${describe(holder)}); stop it or give this one its own data directory`);
  }
}

/** A pid is another host's (another container's pid namespace) when the holder saw another host name. */
function describe(holder: DataDirHolder | undefined): string {
  if (!holder) return 'pid unknown';
  return holder.host === hostname() ? `pid ${holder.pid}` : `pid ${holder.pid} on host ${holder.host}`;
}

/**
 * This start's own mark in the holder row: its pid alone may be another's (two containers on one volume are each
 * pid 1 in their own namespace).
 */
const ownToken = randomUUID();

export interface DataDirLock {
  /** Gives the directory back (the process's exit does too). */
  release(): void;
  /**
   * From now on, takes the lock again at once should its file be removed or replaced (an OS lock is on the file, not
   * its name: a start after `rm pullgate.lock` would otherwise make a file of its own and hold that), telling `log`
   * at a bounded rate (`clock`: tests).
   */
  watch(log: Logger, clock?: () => number): void;
}

/** The lock file's changes are told at most once in this long; the changes between are counted in the next line. */
export const lockChangeLogEveryMs = 60_000;

/**
 * The log of the lock file's changes, bounded: each kind of line (held again, or not) is told at once the first time,
 * then at most once per `lockChangeLogEveryMs` with how many changes there were (something that keeps replacing the
 * file must not flood the log).
 */
class LockChangeLog {
  private readonly kinds = new Map<string, { toldAt?: number; untold: number; fields: Record<string, unknown> }>();

  constructor(
    private readonly log: Logger,
    private readonly clock: () => number,
  ) {}

  changed(level: 'warn' | 'error', fields: Record<string, unknown>, msg: string): void {
    const kind = this.kinds.get(`${level} ${msg}`) ?? { untold: 0, fields };
    kind.untold++;
    kind.fields = fields;
    this.kinds.set(`${level} ${msg}`, kind);
    this.flush();
  }

  /** Tells the changes not told yet of each kind whose interval since its last line has passed. */
  flush(): void {
    const now = this.clock();
    for (const [key, kind] of this.kinds) {
      if (kind.untold === 0 || (kind.toldAt !== undefined && now - kind.toldAt < lockChangeLogEveryMs)) continue;
      const level = key.startsWith('error ') ? 'error' : 'warn';
      this.log[level]({ ...kind.fields, ...(kind.toldAt !== undefined ? { changes: kind.untold, sinceMs: now - kind.toldAt } : {}) }, key.slice(level.length + 1));
      kind.toldAt = now;
      kind.untold = 0;
    }
  }
}

/** How often the lock file is looked at besides its change events (a file system without them). */
const watchEveryMs = 1_000;

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
  const file = join(dataDir, lockFileName);
  let db = take(dataDir, file);
  let identity = fileIdentity(file);
  held.add(db);
  let unwatch = (): void => {};
  /** Whether the file changed (then it is held again if it can be). */
  const retake = (log: LockChangeLog): boolean => {
    if (fileIdentity(file) === identity) return false;
    try {
      const next = take(dataDir, file);
      held.delete(db);
      db.close();
      db = next;
      held.add(db);
      log.changed('warn', { file }, 'the data directory\'s lock file was removed or replaced while this server ran; it holds it again');
    } catch (err) {
      const what = err instanceof DataDirInUseError ? 'another start took it: two servers use this data directory; stop one' : 'it cannot be held again';
      log.changed('error', { err, file }, `the data directory's lock file was removed or replaced while this server ran, and ${what}`);
    }
    identity = fileIdentity(file);
    return true;
  };
  return {
    release: () => {
      unwatch();
      held.delete(db);
      db.close();
    },
    watch: (logger, clock = Date.now) => {
      // The file's own events (its unlinking changes its link count), not the directory's: the databases' writes
      // there would wake this at every commit. The file held is never written, so nothing wakes it but a change.
      let watcher: FSWatcher | undefined;
      const log = new LockChangeLog(logger, clock);
      const check = (): void => {
        if (retake(log)) arm();
        log.flush();
      };
      const arm = (): void => {
        watcher?.close();
        try {
          watcher = watch(file, { persistent: false }, check);
        } catch {
          watcher = undefined;
        }
      };
      arm();
      const timer = setInterval(check, watchEveryMs).unref();
      unwatch = () => {
        watcher?.close();
        clearInterval(timer);
      };
      check();
    },
  };
}

/**
 * A worker's share of its supervisor's hold: a read lock on the lock file for the worker's life (the OS drops it with
 * the process), taken before the worker touches anything in the directory. A start waits up to `holderWaitMs` for
 * the read locks of the workers of a supervisor that is gone, and is refused while any remains. Should the file be
 * removed or replaced, the supervisor holds the new one (lockDataDir's watch) and the worker follows it there once it
 * names the supervisor: a share of a file no start would take any more keeps nothing from anyone.
 */
export function shareDataDirLock(dataDir: string): DataDirLock {
  const file = join(dataDir, lockFileName);
  let db: Database.Database;
  try {
    db = share(file, holderWaitMs);
  } catch (err) {
    throw lockFileError(file, err);
  }
  let identity = fileIdentity(file);
  held.add(db);
  let timer: NodeJS.Timeout | undefined;
  return {
    release: () => {
      clearInterval(timer);
      held.delete(db);
      db.close();
    },
    // The supervisor watches and logs for the whole group; a worker only follows the file the supervisor holds.
    watch: () => {
      timer ??= setInterval(() => {
        const now = fileIdentity(file);
        if (now === undefined || now === identity) return;
        const next = shareOfSupervisors(file);
        if (!next) return;
        held.delete(db);
        db.close();
        db = next;
        held.add(db);
        identity = now;
      }, watchEveryMs).unref();
    },
  };
}

/** Opens the lock file and takes a read lock on it (an open read transaction), waiting up to `waitMs`, or throws. */
function share(file: string, waitMs: number): Database.Database {
  const db = new Database(file, { fileMustExist: true, timeout: waitMs });
  try {
    db.exec('BEGIN');
    db.prepare('SELECT count(*) FROM holder').get();
    return db;
  } catch (err) {
    db.close();
    throw err;
  }
}

/** A read lock on the lock file if its holder row names this worker's supervisor (its parent), else undefined. */
function shareOfSupervisors(file: string): Database.Database | undefined {
  let db: Database.Database | undefined;
  try {
    // Never waited for: this runs in a serving worker, and a busy file is looked at again at the next turn.
    db = share(file, 0);
    const row = readHolder(db);
    if (row && row.pid === process.ppid && row.host === hostname()) return db;
  } catch {
    // Not (yet) the supervisor's file: looked at again at the next turn.
  }
  db?.close();
  return undefined;
}

/** Opens the lock file and holds it, or throws (DataDirInUseError, DataDirLockFileError). */
function take(dataDir: string, file: string): Database.Database {
  let db: Database.Database;
  try {
    db = new Database(file, { timeout: holderWaitMs });
  } catch (err) {
    throw lockFileError(file, err);
  }
  try {
    if (!hold(db)) throw new DataDirInUseError(dataDir, holderOf(db));
    return db;
  } catch (err) {
    db.close();
    throw lockFileError(file, err);
  }
}

/** Which file `file` names now (its birth time too: a new file may get the inode number of one just removed). */
function fileIdentity(file: string): string | undefined {
  const stat = statSync(file, { throwIfNoEntry: false, bigint: true });
  return stat ? `${stat.dev}:${stat.ino}:${stat.birthtimeNs}` : undefined;
}

/**
 * Takes the write lock and keeps it, once the holder row it holds names this process: false when another process
 * holds it (never waited for: a running holder keeps it for its life). The row is written in a transaction of its
 * own (others read only what is committed), then the lock is taken again: should another start have taken it in
 * between, it is that one's, or, if that one's row then names another, this one writes its own again. Every
 * statement but the commit is in the lock, so that two starts on a new file never wait on each other's schema.
 */
function hold(db: Database.Database): boolean {
  db.pragma('busy_timeout = 0');
  if (!attempt(() => db.pragma('journal_mode = DELETE'))) return false;
  for (;;) {
    if (!attempt(() => db.exec('BEGIN IMMEDIATE'))) return false;
    db.exec(`CREATE TABLE IF NOT EXISTS holder (one INTEGER PRIMARY KEY CHECK (one = 1), pid INTEGER NOT NULL,
      host TEXT NOT NULL, token TEXT NOT NULL, since INTEGER NOT NULL)`);
    if (readHolder(db)?.token === ownToken) return true;
    db.prepare('INSERT OR REPLACE INTO holder (one, pid, host, token, since) VALUES (1, ?, ?, ?, ?)').run(process.pid, hostname(), ownToken, Date.now());
    // The commit waits for a refused start reading the row (holderOf) to be done, and for the workers of a supervisor
    // that is gone to exit (their read locks, shareDataDirLock): while one runs, the directory is not free.
    db.pragma(`busy_timeout = ${holderWaitMs}`);
    const committed = attempt(() => db.exec('COMMIT'));
    db.pragma('busy_timeout = 0');
    if (!committed) {
      db.exec('ROLLBACK');
      return false;
    }
  }
}

/** An SQLite error on the lock file, as one naming it; anything else as it is. */
function lockFileError(file: string, err: unknown): unknown {
  return err instanceof Database.SqliteError ? new DataDirLockFileError(file, err) : err;
}

/** Runs `statement`: false when another connection holds the lock (SQLITE_BUSY), any other error thrown. */
function attempt(statement: () => unknown): boolean {
  try {
    statement();
    return true;
  } catch (err) {
    if ((err as { code?: string }).code === 'SQLITE_BUSY') return false;
    throw err;
  }
}

/** The holder row, as committed; undefined while there is none (a new file). */
function readHolder(db: Database.Database): (DataDirHolder & { token: string }) | undefined {
  try {
    return db.prepare('SELECT pid, host, token FROM holder').get() as (DataDirHolder & { token: string }) | undefined;
  } catch (err) {
    if ((err as { code?: string }).code === 'SQLITE_ERROR' || (err as { code?: string }).code === 'SQLITE_BUSY') return undefined;
    throw err;
  }
}

/**
 * The holder as it wrote itself (a start that took the lock this moment writes its row within a moment). A row is
 * believed once read the same twice, a moment apart: starts racing on a new file each commit their row before they
 * hold (hold), so a row read between one's commit and another's may name a start that is then refused.
 */
function holderOf(db: Database.Database): DataDirHolder | undefined {
  db.pragma(`busy_timeout = ${holderWaitMs}`);
  const deadline = Date.now() + holderWaitMs;
  let seen: string | undefined;
  for (;;) {
    const row = readHolder(db);
    if (row && row.token !== ownToken) {
      if (seen === row.token) return { pid: row.pid, host: row.host };
      seen = row.token;
    } else seen = undefined;
    if (Date.now() > deadline) return seen !== undefined && row ? { pid: row.pid, host: row.host } : undefined;
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 50);
  }
}
