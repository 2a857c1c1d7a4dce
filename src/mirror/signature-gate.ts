// Signature policy at the mirror (docs/signatures.md): a manifest of a repository under a policy is served only
// when its verdict passes (enforce) or is recorded (audit); a blob only when it belongs to a manifest that passed.
// Verdicts are cached per digest and policy version, so a warm pull asks the upstream nothing and verifies nothing.
import type { SignatureVerdicts } from '../cache/signature-verdicts.js';
import { RegistryError } from '../registry/errors.js';
import { evaluate } from '../signature/evaluate.js';
import type { Requirement } from '../signature/requirement.js';
import { findSignatures } from '../signature/signature-discovery.js';
import { isArtifactManifest } from '../signature/signature-artifact.js';
import { SignaturePolicy, type SignaturePolicyConfig } from '../signature/signature-policy.js';
import { signerName, type Verdict } from '../signature/verdict.js';
import { emptyTrustedRoot } from '../signature/trusted-root.js';
import type { PullContext } from './reply.js';
import { upstreamSignatureSource } from './upstream-signature-source.js';

export type VerdictOutcome = 'pass' | 'fail' | 'audit_fail' | 'unknown';

export interface SignatureObserver {
  verdict(upstream: string, outcome: VerdictOutcome): void;
}

/** How long a failed verdict is reused before the upstream is asked for signatures again. */
export const failedVerdictRecheckMs = 60_000;

export class SignatureGate {
  /** Compiled once per upstream config object: a reload or an admin change brings a new one. */
  private readonly compiled = new WeakMap<SignaturePolicyConfig, SignaturePolicy>();
  /** Passing verdicts and admitted blobs already read from the index, so a warm pull reads nothing. */
  private readonly passed = new Map<string, Verdict>();
  private readonly admitted = new Set<string>();
  /** Judgments in progress: concurrent pulls of one new image look for its signatures once. */
  private readonly judging = new Map<string, Promise<Verdict | undefined>>();

  constructor(
    private readonly verdicts: SignatureVerdicts,
    private readonly clock: () => number,
    private readonly observer?: SignatureObserver,
  ) {}

  private policy(ctx: PullContext): SignaturePolicy | undefined {
    return this.compiledFor(ctx.upstream.name, ctx.upstream.config.signatures);
  }

  private compiledFor(upstream: string, config: SignaturePolicyConfig | undefined): SignaturePolicy | undefined {
    if (!config) return undefined;
    let policy = this.compiled.get(config);
    if (!policy) {
      policy = new SignaturePolicy(upstream, config);
      this.compiled.set(config, policy);
    }
    return policy;
  }

  /** The verdict keys of every requirement in force on these upstreams now (older keys are never read again). */
  verdictKeys(upstreams: readonly { name: string; config: { signatures?: SignaturePolicyConfig | undefined } }[]): Set<string> {
    const keys = new Set<string>();
    for (const u of upstreams) {
      const policy = this.compiledFor(u.name, u.config.signatures);
      if (policy) for (const r of policy.requirements) keys.add(policy.verdictKey(r));
    }
    return keys;
  }

  /** Whether any requirement applies to this request's repository. */
  applies(ctx: PullContext): boolean {
    return (this.policy(ctx)?.matching(ctx.repository).length ?? 0) > 0;
  }

  /** Resolves when manifest `digest` may be served for this request; throws DENIED when the policy refuses it. */
  async admitManifest(ctx: PullContext, m: { digest: string; bytes: Buffer }): Promise<void> {
    const policy = this.policy(ctx);
    if (!policy) return;
    for (const requirement of policy.matching(ctx.repository)) {
      const verdict = await this.verdict(ctx, policy, requirement, m);
      const outcome: VerdictOutcome = verdict === undefined ? 'unknown' : verdict.result === 'pass' ? 'pass' : requirement.mode === 'enforce' ? 'fail' : 'audit_fail';
      this.observer?.verdict(ctx.upstream.name, outcome);
      ctx.log.signature = outcome === 'pass' ? `pass ${verdict?.signers.map(signerName).join(', ') ?? ''}`.trim() : `${outcome}: ${verdict?.reason ?? 'not checked'}`;
      if (outcome === 'fail' || (outcome === 'unknown' && requirement.mode === 'enforce')) {
        const why = verdict?.reason ?? 'its signatures could not be checked (upstream unavailable)';
        throw new RegistryError('DENIED', `${ctx.repository}@${m.digest} is refused by the signature policy of upstream ${ctx.upstream.name} (${requirement.name}): ${why}`);
      }
    }
  }

  /**
   * Whether blob `digest` may be served: `image` when it is part of a manifest that passed every enforced
   * requirement (or none applies); `artifact` when it is not, but a signature artifact cached for this repository
   * names it (the caller serves it only as a signature document, signature-artifacts.ts). Throws DENIED otherwise.
   */
  admitBlob(ctx: PullContext, digest: string): 'image' | 'artifact' {
    const policy = this.policy(ctx);
    if (!policy) return 'image';
    for (const requirement of policy.matching(ctx.repository)) {
      if (requirement.mode !== 'enforce') continue;
      const key = `${digest} ${policy.verdictKey(requirement)}`;
      if (this.admitted.has(key)) continue;
      if (this.verdicts.blobOfPassedManifest(digest, policy.verdictKey(requirement))) remember(this.admitted, key);
      else if (this.verdicts.linkedParents(digest, ctx.upstream.name, ctx.repository).some((m) => isArtifactManifest(m.mediaType, m.bytes))) return 'artifact';
      else {
        throw new RegistryError('DENIED', `${ctx.repository}: blob ${digest} is not part of an image that passed the signature policy of upstream ${ctx.upstream.name} (${requirement.name})`);
      }
    }
    return 'image';
  }

  private async verdict(ctx: PullContext, policy: SignaturePolicy, requirement: Requirement, m: { digest: string; bytes: Buffer }): Promise<Verdict | undefined> {
    const key = policy.verdictKey(requirement);
    const known = this.passed.get(`${m.digest} ${key}`);
    if (known) return known;
    const stored = this.verdicts.get(m.digest, key);
    if (stored?.result === 'pass') return this.pass(m.digest, key, JSON.parse(stored.json) as Verdict);
    const parentPassed = this.verdicts.parentPassed(m.digest, key);
    // A failed verdict stands until an index that references the manifest passes, or for a while: cosign signs an
    // image after it was pushed, so a pull in between must not leave it refused until the policy changes
    // (docs/signatures.md).
    const failed = stored ? (JSON.parse(stored.json) as Verdict) : undefined;
    if (failed && !parentPassed && !(this.clock() - failed.at >= failedVerdictRecheckMs)) return failed;
    const judgment = `${m.digest} ${key}`;
    const inProgress = this.judging.get(judgment);
    if (inProgress) {
      const shared = await inProgress;
      // Unknown for another request (its client went away, say): this one asks on its own.
      if (shared !== undefined || ctx.signal.aborted) return shared;
    }
    const judged = this.judge(ctx, policy, requirement, m, key, parentPassed, failed).finally(() => {
      if (this.judging.get(judgment) === judged) this.judging.delete(judgment);
    });
    this.judging.set(judgment, judged);
    return judged;
  }

  private async judge(ctx: PullContext, policy: SignaturePolicy, requirement: Requirement, m: { digest: string; bytes: Buffer }, key: string, parentPassed: boolean, failed: Verdict | undefined): Promise<Verdict | undefined> {
    let verdict: Verdict;
    if (parentPassed) {
      // A platform manifest of an index that passed: the index's signature covers it (docs/signatures.md).
      verdict = { result: 'pass', requirement: requirement.name, mode: requirement.mode, signers: [], reason: 'part of a signed index', at: this.clock() };
    } else {
      let found;
      try {
        found = await findSignatures(upstreamSignatureSource(ctx), m.digest);
      } catch {
        // Unknown, not failed: nothing is stored, and the next pull asks again. A failure judged before stands.
        return failed;
      }
      const root = requirement.identities.length > 0 ? policy.trustedRoot() : emptyTrustedRoot();
      verdict = evaluate(requirement, m.digest, m.bytes, found, { root }, this.clock());
    }
    this.verdicts.put(m.digest, key, verdict.result, JSON.stringify(verdict), verdict.at);
    return verdict.result === 'pass' ? this.pass(m.digest, key, verdict) : verdict;
  }

  private pass(digest: string, key: string, verdict: Verdict): Verdict {
    remember(this.passed, `${digest} ${key}`, verdict);
    return verdict;
  }
}

const maxRemembered = 10_000;

/** Adds to a bounded memo: past its bound the oldest entries go (they are still in the index). */
function remember<V>(memo: Map<string, V> | Set<string>, key: string, value?: V): void {
  if (memo.size >= maxRemembered) {
    const oldest = memo.keys().next().value;
    if (oldest !== undefined) memo.delete(oldest);
  }
  if (memo instanceof Map) memo.set(key, value as V);
  else memo.add(key);
}
