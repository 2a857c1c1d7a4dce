// The request target as the client sent it: raw path (never decoded, see registry/paths.ts) and query.
import { RegistryError } from '../registry/errors.js';

export interface RequestTarget {
  path: string;
  query: URLSearchParams;
  /** containerd's `?ns=`, percent-decoded; undefined when absent. */
  ns: string | undefined;
}

export function parseTarget(rawUrl: string | undefined): RequestTarget {
  const url = rawUrl ?? '/';
  const q = url.indexOf('?');
  const path = q === -1 ? url : url.slice(0, q);
  let query: URLSearchParams;
  try {
    query = new URLSearchParams(q === -1 ? '' : url.slice(q + 1));
  } catch {
    throw new RegistryError('REQUEST_INVALID', 'malformed query string');
  }
  const all = query.getAll('ns');
  if (all.length > 1) throw new RegistryError('REQUEST_INVALID', 'more than one ns parameter');
  const ns = all[0];
  if (ns !== undefined && (ns.length > 255 || !/^[a-z0-9.:[\]-]+$/i.test(ns))) {
    throw new RegistryError('NAME_UNKNOWN', 'this registry is not mirrored here', { detail: { registry: ns.slice(0, 64) } });
  }
  return { path, query, ns };
}

/** Query strings in logs: values of anything credential-like are replaced. */
export function redactedUrl(rawUrl: string | undefined): string {
  const url = rawUrl ?? '/';
  const q = url.indexOf('?');
  if (q === -1) return url;
  const query = new URLSearchParams(url.slice(q + 1));
  for (const key of [...query.keys()]) {
    if (/token|password|secret|auth|sig|signature|key|credential|code/i.test(key)) query.set(key, '[redacted]');
  }
  return `${url.slice(0, q)}?${query.toString()}`;
}
