// Pins: images eviction never removes, named `upstream/repository[:tag]` with `*` wildcards.
//   hub/library/*                 every tag of every official image on Docker Hub
//   gcr/distroless/base:latest    one tag
//   */team/*:v*                   the v* tags of team/* on any upstream
// `*` matches any run of characters, `/` included (`hub/*` pins all of Hub). Names are the stored ones: the
// upstream's configured name and the repository as cached (`hub/library/nginx`, not `hub/nginx`). A pin without a
// tag pins the repository as a whole, pulls by digest included; a pin with a tag pins only what that tag points at.

/** Whether a name matches one part of a pin. */
export interface Matcher {
  test(value: string): boolean;
}

export interface Pin {
  /** The pattern as written, for logs and the admin UI. */
  source: string;
  upstream: Matcher;
  repository: Matcher;
  tag?: Matcher;
}

export class PinError extends Error {
  readonly code = 'PIN_INVALID';
  constructor(
    readonly pattern: string,
    reason: string,
  ) {
    super(`invalid pin "${pattern}": ${reason}`);
    this.name = 'PinError';
  }
}

// The characters of upstream names, repository paths and tags (distribution spec), plus the wildcard.
const upstreamPart = /^[a-z0-9*][a-z0-9_*-]*$/;
const repositoryPart = /^[a-z0-9*]+(?:(?:[._/-]|__|-+)[a-z0-9*]+)*$/;
const tagPart = /^[A-Za-z0-9_*][A-Za-z0-9_.*-]{0,127}$/;

export function parsePin(pattern: string): Pin {
  const slash = pattern.indexOf('/');
  if (slash <= 0) throw new PinError(pattern, 'expected upstream/repository[:tag]');
  const upstream = pattern.slice(0, slash);
  const rest = pattern.slice(slash + 1);
  const colon = rest.lastIndexOf(':');
  const repository = colon === -1 ? rest : rest.slice(0, colon);
  const tag = colon === -1 ? undefined : rest.slice(colon + 1);
  if (!upstreamPart.test(upstream)) throw new PinError(pattern, `"${upstream}" is not an upstream name`);
  if (!repositoryPart.test(repository)) throw new PinError(pattern, `"${repository}" is not a repository name`);
  if (tag !== undefined && !tagPart.test(tag)) throw new PinError(pattern, `"${tag}" is not a tag`);
  const pin: Pin = { source: pattern, upstream: wildcard(upstream), repository: wildcard(repository) };
  if (tag !== undefined) pin.tag = wildcard(tag);
  return pin;
}

export interface PinSubject {
  upstream: string;
  repository: string;
  /** Absent for content pulled by digest: only a pin without a tag covers it. */
  tag?: string;
}

export function matchesPin(pin: Pin, subject: PinSubject): boolean {
  if (!pin.upstream.test(subject.upstream) || !pin.repository.test(subject.repository)) return false;
  if (!pin.tag) return true;
  return subject.tag !== undefined && pin.tag.test(subject.tag);
}

/**
 * `*` is the only special character; everything else is literal (`.` in a tag is a dot). Matched without a
 * regular expression: `^.*a.*a.*a.*b$` backtracks for ages on a long name, and eviction matches every pin against
 * every cached repository. The literal pieces between stars are found leftmost-first, which is enough for globs.
 */
function wildcard(glob: string): Matcher {
  const pieces = glob.split('*');
  const first = pieces[0]!;
  const last = pieces[pieces.length - 1]!;
  const middle = pieces.slice(1, -1);
  return {
    test(value: string): boolean {
      if (pieces.length === 1) return value === glob;
      if (value.length < first.length + last.length || !value.startsWith(first) || !value.endsWith(last)) return false;
      const end = value.length - last.length;
      let at = first.length;
      for (const piece of middle) {
        const found = value.indexOf(piece, at);
        if (found === -1 || found + piece.length > end) return false;
        at = found + piece.length;
      }
      return true;
    },
  };
}
