// TLS-ALPN-01 with several workers (docs/workers.md): the lead worker's ACME client creates the challenge
// certificate, but the CA's validation handshake is handed to any worker. The certificate is written to workers.db
// before the CA is told to validate (the write is committed when `set` returns), and every worker's listener reads
// it there for an acme-tls/1 handshake, and for no other: a client's handshake never touches the table.
import type { SecureContext } from 'node:tls';
import { createSecureContext } from 'node:tls';
import { AcmeChallengeTable } from '../cache/acme-challenge-table.js';
import type { AcmeChallengeBoard } from '../server/acme-challenges.js';

/** A challenge is validated within minutes; a row older than this was left by a lead that died mid-challenge. */
const staleMs = 60 * 60_000;

export class SharedAcmeChallenges implements AcmeChallengeBoard {
  private readonly table: AcmeChallengeTable;
  /** The context made from each host's row, kept while the row is the same (a CA validates several times). */
  private readonly made = new Map<string, { cert: string; context: SecureContext }>();

  constructor(
    dataDir: string,
    private readonly clock: () => number = Date.now,
  ) {
    this.table = new AcmeChallengeTable(dataDir);
  }

  set(host: string, pem: { cert: string; key: string } | undefined): void {
    const name = host.toLowerCase();
    const now = this.clock();
    this.table.prune(now - staleMs);
    if (pem) this.table.put(name, { ...pem, at: now });
    else this.table.delete(name);
  }

  context(host: string): SecureContext | undefined {
    const name = host.toLowerCase();
    const row = this.table.get(name);
    if (!row || row.at < this.clock() - staleMs) {
      this.made.delete(name);
      return undefined;
    }
    const made = this.made.get(name);
    if (made?.cert === row.cert) return made.context;
    const context = createSecureContext({ cert: row.cert, key: row.key });
    this.made.set(name, { cert: row.cert, context });
    return context;
  }

  close(): void {
    this.table.close();
  }
}
