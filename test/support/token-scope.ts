// Scopes as clients request them (`repository:library/alpine:pull,push`) and the harness's access policy.
// Grammar: https://distribution.github.io/distribution/spec/auth/scope/
import type { AccessEntry } from './token-signer.js';

export interface RequestedScope {
  /** `repository`, `repository(plugin)` or `registry`. */
  type: string;
  name: string;
  actions: string[];
}

/** Decides the actions a (possibly anonymous) user gets for one requested scope. */
export type AccessPolicy = (user: string | undefined, scope: RequestedScope) => string[];

export class InvalidScopeError extends Error {
  readonly code = 'INVALID_SCOPE';
}

/** Parses one scope string; the name may itself contain colons only for non-repository types. */
export function parseScope(text: string): RequestedScope {
  const first = text.indexOf(':');
  const last = text.lastIndexOf(':');
  if (first <= 0 || last === first) throw new InvalidScopeError(`malformed scope: ${text}`);
  const type = text.slice(0, first);
  const name = text.slice(first + 1, last);
  if (!/^[a-z0-9]+(\([a-z0-9]+\))?$/.test(type) || name === '') throw new InvalidScopeError(`malformed scope: ${text}`);
  const actions = text.slice(last + 1).split(',').filter((a) => a !== '');
  return { type, name, actions };
}

/** Several `scope` parameters, each possibly holding several space-separated scopes (OAuth2 form). */
export function parseScopes(values: string[]): RequestedScope[] {
  return values.flatMap((v) => v.split(' ').filter((s) => s !== '')).map(parseScope);
}

const privatePrefix = 'private/';

/**
 * Docker-Hub-like: every repository is pullable anonymously except `private/...`; writing (push, delete, `*`)
 * needs a signed-in user; registry-level scopes (catalog) are denied to everyone.
 */
export const defaultAccessPolicy: AccessPolicy = (user, scope) => {
  if (!scope.type.startsWith('repository')) return [];
  const allowed = user !== undefined ? ['pull', 'push', 'delete', '*'] : scope.name.startsWith(privatePrefix) ? [] : ['pull'];
  return scope.actions.filter((a) => allowed.includes(a));
};

/** Denied scopes stay in the answer with empty `actions`, as Docker Hub's token server does. */
export function grantAccess(policy: AccessPolicy, user: string | undefined, scopes: RequestedScope[]): AccessEntry[] {
  return scopes.map((scope) => ({ type: scope.type, name: scope.name, actions: policy(user, scope) }));
}
