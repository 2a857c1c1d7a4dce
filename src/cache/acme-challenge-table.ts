// TLS-ALPN-01 challenge certificates pending for the machine with several workers (docs/workers.md; the board on
// top: workers/shared-acme-challenges.ts), as rows of the data directory's workers.db: the lead worker's ACME client
// writes one before it tells the CA to validate, and whichever worker the validation handshake lands on reads it.
import type Database from 'better-sqlite3';
import { openWorkersDb } from './workers-db.js';

export interface AcmeChallengeRow {
  cert: string;
  key: string;
  at: number;
}

export class AcmeChallengeTable {
  private readonly db: Database.Database;
  private readonly q;

  constructor(dataDir: string) {
    this.db = openWorkersDb(dataDir);
    this.db.exec('CREATE TABLE IF NOT EXISTS acme_challenges (host TEXT PRIMARY KEY, cert TEXT NOT NULL, key TEXT NOT NULL, at INTEGER NOT NULL)');
    this.q = {
      get: this.db.prepare<[string], AcmeChallengeRow>('SELECT cert, key, at FROM acme_challenges WHERE host = ?'),
      put: this.db.prepare<[string, string, string, number]>(
        'INSERT INTO acme_challenges (host, cert, key, at) VALUES (?, ?, ?, ?) ON CONFLICT (host) DO UPDATE SET cert = excluded.cert, key = excluded.key, at = excluded.at',
      ),
      delete: this.db.prepare<[string]>('DELETE FROM acme_challenges WHERE host = ?'),
      prune: this.db.prepare<[number]>('DELETE FROM acme_challenges WHERE at < ?'),
    };
  }

  get(host: string): AcmeChallengeRow | undefined {
    return this.q.get.get(host);
  }

  put(host: string, row: AcmeChallengeRow): void {
    this.q.put.run(host, row.cert, row.key, row.at);
  }

  delete(host: string): void {
    this.q.delete.run(host);
  }

  /** Deletes the rows written before `at` (a lead that died mid-challenge never withdrew its own). */
  prune(before: number): void {
    this.q.prune.run(before);
  }

  close(): void {
    this.db.close();
  }
}
