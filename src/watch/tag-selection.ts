// Which tags a watch entry follows (docs/watch.md): exact tags as they are; patterns (`22*`, `v*`) against the
// upstream's tag list, optionally only the newest N in version order. Docker tags are rarely strict semver
// (`22`, `22.1-alpine`, `v1.2`), so versions are read with semver's coercion; a tag without a version sorts last.
// The two functions, not the whole package: a mirror loads this module whether or not it watches anything.
import coerce from 'semver/functions/coerce.js';
import rcompare from 'semver/functions/rcompare.js';
import { isTag } from '../registry/names.js';

const isPattern = (t: string): boolean => t.includes('*');

function glob(pattern: string): RegExp {
  return new RegExp(`^${pattern.split('*').map((p) => p.replace(/[.+?^${}()|[\]\\/-]/g, '\\$&')).join('.*')}$`);
}

/** Whether the entry needs the upstream's tag list (it has a pattern). */
export const needsTagList = (tags: readonly string[]): boolean => tags.some(isPattern);

/** Newest first: by coerced version (a pre-release after its release), then by name for a stable order. */
export function byVersionDescending(a: string, b: string): number {
  const va = coerce(a, { includePrerelease: true });
  const vb = coerce(b, { includePrerelease: true });
  if (va && vb) {
    const c = rcompare(va, vb);
    if (c !== 0) return c;
    // 22.1 before 22.1-alpine: the shorter, plainer tag first.
    return a.length - b.length || (a < b ? -1 : a > b ? 1 : 0);
  }
  if (va) return -1;
  if (vb) return 1;
  return a < b ? -1 : a > b ? 1 : 0;
}

export interface TagSelection {
  /** Exact tags first, then the chosen pattern matches (newest version first). */
  tags: string[];
  /** Pattern matches left out by the cap (`maxTags`), not by `newest`. */
  skipped: number;
}

/**
 * The tags to follow: exact ones, plus those of `available` matching a pattern: the newest `newest` of them, at most
 * `maxTags`; without `newest`, the first `maxTags` in the upstream's order (docs/watch.md).
 */
export function selectTags(patterns: readonly string[], available: readonly string[], newest: number | undefined, maxTags = Infinity): TagSelection {
  const exact = patterns.filter((p) => !isPattern(p));
  const regexes = patterns.filter(isPattern).map(glob);
  // The list is the upstream's answer: only names of the tag grammar are followed (one is put into a request path).
  let matched = [...new Set(available.filter((t) => isTag(t) && regexes.some((re) => re.test(t)) && !exact.includes(t)))];
  if (newest !== undefined) matched = matched.sort(byVersionDescending).slice(0, newest);
  const chosen = matched.slice(0, maxTags).sort(byVersionDescending);
  return { tags: [...exact, ...chosen], skipped: matched.length - chosen.length };
}
