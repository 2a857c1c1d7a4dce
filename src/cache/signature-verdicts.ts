// Signature verdicts in the cache index (docs/signatures.md): per manifest digest and policy key (upstream,
// requirement, policy version). A warm pull reads its verdict here instead of asking the upstream and verifying
// again; a policy change makes a new key, so nothing decided under the old policy is reused.
import type { Database } from 'better-sqlite3';

export interface StoredVerdict {
  result: 'pass' | 'fail';
  json: string;
}

export class SignatureVerdicts {
  private readonly q;

  constructor(db: Database) {
    this.q = {
      get: db.prepare<[string, string], StoredVerdict>(`SELECT result, json FROM signature_verdicts WHERE digest = ? AND policy = ?`),
      put: db.prepare<[string, string, string, string, number]>(
        `INSERT INTO signature_verdicts (digest, policy, result, json, decided_at) VALUES (?, ?, ?, ?, ?)
         ON CONFLICT (digest, policy) DO UPDATE SET result = excluded.result, json = excluded.json, decided_at = excluded.decided_at`,
      ),
      passedParent: db.prepare<[string, string]>(
        `SELECT 1 FROM manifest_refs r JOIN signature_verdicts v ON v.digest = r.manifest AND v.policy = ? AND v.result = 'pass'
         WHERE r.kind = 'manifest' AND r.child = ? LIMIT 1`,
      ),
      blobOfPassed: db.prepare<[string, string]>(
        `SELECT 1 FROM manifest_refs r JOIN signature_verdicts v ON v.digest = r.manifest AND v.policy = ? AND v.result = 'pass'
         WHERE r.kind = 'blob' AND r.child = ? LIMIT 1`,
      ),
      latest: db.prepare<[string], { policy: string; result: string; json: string }>(
        `SELECT policy, result, json FROM signature_verdicts WHERE digest = ? ORDER BY decided_at DESC`,
      ),
    };
  }

  get(digest: string, policy: string): StoredVerdict | undefined {
    return this.q.get.get(digest, policy);
  }

  put(digest: string, policy: string, result: 'pass' | 'fail', json: string, at: number): void {
    this.q.put.run(digest, policy, result, json, at);
  }

  /** Whether an index that references manifest `digest` passed under `policy`. */
  parentPassed(digest: string, policy: string): boolean {
    return this.q.passedParent.get(policy, digest) !== undefined;
  }

  /** Whether blob `digest` belongs to a manifest that passed under `policy`. */
  blobOfPassedManifest(digest: string, policy: string): boolean {
    return this.q.blobOfPassed.get(policy, digest) !== undefined;
  }

  /** Every verdict on `digest`, newest first (the admin's cache explorer and the CLI show them). */
  all(digest: string): { policy: string; result: string; json: string }[] {
    return this.q.latest.all(digest);
  }
}
