// Token scopes (distribution docs/spec/auth/scope.md): resourcetype ":" resourcename ":" action [',' action]*.

export interface Scope {
  /** 'repository', 'registry', or a deprecated class form such as 'repository(plugin)'. */
  type: string;
  /** May carry a `host:port/` prefix, so it may contain colons. */
  name: string;
  /** 'pull', 'push', '*', ...; empty when the scope asks for no action. */
  actions: string[];
}

/** A scope that is not `type:name:actions`, such as public.ecr.aws's `aws`; passed on verbatim. */
export interface RawScope {
  raw: string;
}

export type AnyScope = Scope | RawScope;

export function isRawScope(scope: AnyScope): scope is RawScope {
  return 'raw' in scope;
}

// scope.md: resourcetype := resourcetypevalue [ '(' resourcetypevalue ')' ], resourcetypevalue := /[a-z0-9]+/
const typeGrammar = /^[a-z0-9]+(?:\([a-z0-9]+\))?$/;

/** The type ends at the first colon and the actions start after the last one (scope.md: names may hold `host:port`). */
export function parseScope(value: string): AnyScope {
  const first = value.indexOf(':');
  const last = value.lastIndexOf(':');
  if (first === -1 || last === first) return { raw: value };
  const type = value.slice(0, first);
  const name = value.slice(first + 1, last);
  if (name === '' || !typeGrammar.test(type)) return { raw: value };
  const actions = value.slice(last + 1).split(',').filter((action) => action !== '');
  return { type, name, actions };
}

/** containerd repeats `scope`; the OAuth2 POST sends one space-separated `scope` (scope.md, token.md). */
export function parseScopeList(values: readonly string[]): AnyScope[] {
  return values.flatMap((value) => value.split(/\s+/).filter((part) => part !== '').map(parseScope));
}

export function formatScope(scope: AnyScope): string {
  return isRawScope(scope) ? scope.raw : `${scope.type}:${scope.name}:${scope.actions.join(',')}`;
}

/** The form of a challenge's `scope` param and of the OAuth2 POST `scope` field. */
export function formatScopeList(scopes: readonly AnyScope[]): string {
  return scopes.map(formatScope).join(' ');
}

/** Rewrites `repository` names (e.g. add `library/`, strip a path prefix); a name `rename` rejects drops its scope. */
export function mapScopeNames(scopes: readonly AnyScope[], rename: (name: string) => string | undefined): AnyScope[] {
  return scopes.flatMap((scope): AnyScope[] => {
    if (isRawScope(scope) || scope.type !== 'repository') return [scope];
    const name = rename(scope.name);
    return name === undefined ? [] : [{ ...scope, name, actions: [...scope.actions] }];
  });
}
