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

  constructor(private readonly db: Database) {
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
      // A verdict is stored just before its manifest row: only verdicts older than the grace go with their digest.
      pruneUncached: db.prepare<[number]>(
        `DELETE FROM signature_verdicts WHERE decided_at < ? AND digest NOT IN (SELECT digest FROM manifests)`,
      ),
      pruneOtherPolicies: db.prepare<[string]>(`DELETE FROM signature_verdicts WHERE policy NOT IN (SELECT value FROM json_each(?))`),
      linkedParents: db.prepare<[string, string, string], { mediaType: string; bytes: Buffer }>(
        `SELECT m.media_type AS mediaType, m.bytes FROM manifest_refs r JOIN manifests m ON m.digest = r.manifest
         JOIN links l ON l.kind = 'manifest' AND l.digest = r.manifest AND l.upstream = ? AND l.repository = ?
         WHERE r.kind = 'blob' AND r.child = ? LIMIT 16`,
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

  /** Cached manifests linked to this upstream and repository that name blob `digest` (at most a few). */
  linkedParents(digest: string, upstream: string, repository: string): { mediaType: string; bytes: Buffer }[] {
    return this.q.linkedParents.all(upstream, repository, digest);
  }

  /**
   * Drops verdicts nothing will read again: those of digests no longer cached (decided before `decidedBefore`), and
   * those under a policy key not in `current` (an older policy version, a requirement or an upstream gone).
   */
  prune(current: ReadonlySet<string>, decidedBefore: number): { uncached: number; otherPolicies: number } {
    return this.db.transaction(() => ({
      uncached: this.q.pruneUncached.run(decidedBefore).changes,
      otherPolicies: this.q.pruneOtherPolicies.run(JSON.stringify([...current])).changes,
    }))();
  }

  /** Every verdict on `digest`, newest first (the admin's cache explorer and the CLI show them). */
  all(digest: string): { policy: string; result: string; json: string }[] {
    return this.q.latest.all(digest);
  }
}
