// One upstream's signature policy, compiled from its config (docs/signatures.md): the requirements that apply to a
// repository, the trust root keyless signatures are checked against, and a version that changes whenever either
// changes (a cached verdict holds only for the version it was made under).
import type { TrustedRoot } from '@sigstore/protobuf-specs';
import { compileRequirement, policyVersion, type Requirement, type RequirementConfig } from './requirement.js';
import { loadTrustedRoot, trustedRootCodec } from './trusted-root.js';

export interface SignaturePolicyConfig {
  /** A Sigstore trusted root JSON file; Sigstore's public-good root when absent. */
  trustedRoot?: string;
  require: RequirementConfig[];
}

export class SignaturePolicy {
  readonly requirements: Requirement[];
  readonly version: string;
  private root: TrustedRoot | undefined;

  constructor(
    readonly upstream: string,
    private readonly config: SignaturePolicyConfig,
    private readonly readRoot: (path: string | undefined) => TrustedRoot = loadTrustedRoot,
  ) {
    this.requirements = config.require.map((r, i) => compileRequirement(r, `signatures.require[${i}]`));
    // Keyless requirements need the root: a bad root file is a start-up error, not a failing pull. Its content,
    // not only its path, is part of the version: a root replaced in place is a policy change.
    const root = this.requirements.some((r) => r.identities.length > 0) ? JSON.stringify(trustedRootCodec().toJSON(this.trustedRoot())) : undefined;
    this.version = policyVersion(config.require, config.trustedRoot, root);
  }

  /** The requirements whose repository globs match `repository` (every one must pass). */
  matching(repository: string): Requirement[] {
    return this.requirements.filter((r) => r.repositories.some((re) => re.test(repository)));
  }

  /** The key under which a requirement's verdicts are stored: upstream, requirement and policy version. */
  verdictKey(requirement: Requirement): string {
    return `${this.upstream}/${requirement.name}@${this.version}`;
  }

  trustedRoot(): TrustedRoot {
    this.root ??= this.readRoot(this.config.trustedRoot);
    return this.root;
  }
}
