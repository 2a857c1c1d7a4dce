// Repository names and references (OCI distribution-spec "Pulling manifests").
import { RegistryError } from './errors.js';
import { isDigestLike, parseDigest, type Digest } from './digest.js';

declare const repositoryBrand: unique symbol;
export type RepositoryName = string & { readonly [repositoryBrand]: true };

const component = '[a-z0-9]+(?:(?:\\.|_|__|-+)[a-z0-9]+)*';
const nameGrammar = new RegExp(`^${component}(?:/${component})*$`);
const tagGrammar = /^[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}$/;

/** Many clients cap `host/name` at 255 characters; we cap the name alone there. */
export const maxNameLength = 255;

export function isRepositoryName(value: string): boolean {
  return value.length <= maxNameLength && nameGrammar.test(value);
}

/** The grammar excludes `..`, `%`, upper case and empty components, so a valid name is safe as a path or key. */
export function parseRepositoryName(value: string): RepositoryName {
  if (value.length > maxNameLength) {
    throw new RegistryError('NAME_INVALID', `repository name longer than ${maxNameLength} characters`);
  }
  if (!nameGrammar.test(value)) {
    throw new RegistryError('NAME_INVALID', 'invalid repository name', { detail: { name: value } });
  }
  return value as RepositoryName;
}

export function isTag(value: string): boolean {
  return tagGrammar.test(value);
}

export type Reference = { kind: 'tag'; tag: string } | { kind: 'digest'; digest: Digest };

export function parseReference(value: string): Reference {
  if (value.includes(':')) {
    if (!isDigestLike(value)) throw new RegistryError('DIGEST_INVALID', 'invalid digest', { detail: { reference: value } });
    return { kind: 'digest', digest: parseDigest(value) };
  }
  if (!tagGrammar.test(value)) throw new RegistryError('TAG_INVALID', 'invalid tag', { detail: { reference: value } });
  return { kind: 'tag', tag: value };
}

export function referenceString(ref: Reference): string {
  return ref.kind === 'tag' ? ref.tag : ref.digest;
}
