// What may be pulled from an upstream: allow and deny rules over repository names as on the upstream
// (`library/alpine` on Docker Hub), with `*` wildcards and an optional tag pattern (`team/*:v*`). Deny wins; with
// allow rules, anything not allowed is denied. A pull by digest is judged by the repository it names.

export interface PolicyRule {
  source: string;
  repository: RegExp;
  tag?: RegExp;
}

export class PolicyError extends Error {
  readonly code = 'POLICY_INVALID';
}

const repositoryPattern = /^[a-z0-9*]+(?:(?:[._/-]|__|-+)[a-z0-9*]+)*$/;
const tagPattern = /^[A-Za-z0-9_*][A-Za-z0-9_.*-]{0,127}$/;

function wildcard(glob: string): RegExp {
  return new RegExp(`^${glob.split('*').map((p) => p.replace(/[.+?^${}()|[\]\\/-]/g, '\\$&')).join('.*')}$`);
}

export function parsePolicyRule(source: string): PolicyRule {
  const colon = source.lastIndexOf(':');
  const repository = colon === -1 ? source : source.slice(0, colon);
  const tag = colon === -1 ? undefined : source.slice(colon + 1);
  if (!repositoryPattern.test(repository)) throw new PolicyError(`not a repository pattern: ${source}`);
  if (tag !== undefined && !tagPattern.test(tag)) throw new PolicyError(`not a tag pattern: ${source}`);
  return { source, repository: wildcard(repository), ...(tag !== undefined ? { tag: wildcard(tag) } : {}) };
}

export const isPolicyRule = (s: string): boolean => {
  try {
    parsePolicyRule(s);
    return true;
  } catch {
    return false;
  }
};

export class RepositoryPolicy {
  private readonly allow: PolicyRule[];
  private readonly deny: PolicyRule[];

  constructor(rules: { allow?: readonly string[]; deny?: readonly string[] }) {
    this.allow = (rules.allow ?? []).map(parsePolicyRule);
    this.deny = (rules.deny ?? []).map(parsePolicyRule);
  }

  get empty(): boolean {
    return this.allow.length === 0 && this.deny.length === 0;
  }

  /**
   * The rule that denies `repository` (with `tag` when the request names one), or undefined when it may be pulled.
   * A rule with a tag pattern matches only requests by tag; a digest request is judged by the repository rules.
   */
  denies(repository: string, tag: string | undefined): string | undefined {
    const hit = (r: PolicyRule): boolean => r.repository.test(repository) && (!r.tag || (tag !== undefined && r.tag.test(tag)));
    const denied = this.deny.find(hit);
    if (denied) return `denied by rule ${denied.source}`;
    if (this.allow.length === 0) return undefined;
    // A tag-limited allow rule allows the repository's digests too (the tag's content is pulled by digest).
    const allowed = this.allow.some((r) => r.repository.test(repository) && (!r.tag || tag === undefined || r.tag.test(tag)));
    return allowed ? undefined : 'not in the allowed repositories';
  }
}
