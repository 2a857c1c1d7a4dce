// `workers.db`: the machine's shared state between worker processes (docs/workers.md), beside the cache index. Each
// table opens its own connection the same way: WAL so readers never wait for a writer, a busy timeout so a writer
// waits its turn instead of failing, NORMAL sync (the rows are leases and counts a restart rebuilds, not blobs).
import { join } from 'node:path';
import Database from 'better-sqlite3';

export const busyTimeoutMs = 5000;

export function openWorkersDb(dataDir: string, timeout = busyTimeoutMs): Database.Database {
  const db = new Database(join(dataDir, 'workers.db'), { timeout });
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = NORMAL');
  return db;
}
