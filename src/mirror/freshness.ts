// When a cached tag may be served without asking the upstream (docs/architecture.md,
// "Decision: tags are cheap to revalidate"): within tagTtl of the last confirmation; after it the tag is revalidated
// with a HEAD; an offline upstream is never asked.
import { RegistryError } from '../registry/errors.js';

export type TagFreshness = 'fresh' | 'revalidate' | 'unknown';

export function tagFreshness(validatedAt: number | undefined, ttlMs: number, now: number): TagFreshness {
  if (validatedAt === undefined) return 'unknown';
  return now - validatedAt < ttlMs ? 'fresh' : 'revalidate';
}

/**
 * Upstream trouble that a cached answer may cover: unreachable, timing out, 5xx, rate limited or sending
 * nonsense. A refusal (401/403) or an absence (404) is an answer, never covered.
 */
export function isUpstreamTrouble(err: unknown): boolean {
  if (!(err instanceof RegistryError)) return false;
  return err.code === 'UNAVAILABLE' || err.code === 'UPSTREAM_TIMEOUT' || err.code === 'UPSTREAM_INVALID' || err.code === 'TOOMANYREQUESTS';
}
