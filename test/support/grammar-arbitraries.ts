// fast-check arbitraries for the OCI vocabulary, generated from the grammars themselves (distribution-spec
// "Pulling manifests", image-spec "Digests", RFC 9110 ranges), plus hostile strings that look almost valid.
import fc from 'fast-check';

/** The seed of every property under CI=true: the same inputs on every CI run. */
const ciSeed = 20_260_505;

/** Seeded runs in CI (reproducible); FC_SEED=<n> replays a failure with the seed fast-check printed. */
export function propertyOptions(numRuns: number): fc.Parameters<unknown> {
  const raw = process.env.FC_SEED;
  if (raw !== undefined && !/^-?\d+$/.test(raw)) throw new Error(`FC_SEED must be an integer, got ${JSON.stringify(raw)}`);
  const seed = raw !== undefined ? Number(raw) : process.env.CI ? ciSeed : undefined;
  return { numRuns, includeErrorInReport: true, ...(seed !== undefined ? { seed } : {}) };
}

const lowerAlnum = fc.constantFrom(...'abcdefghijklmnopqrstuvwxyz0123456789'.split(''));
const alnum = fc.constantFrom(...'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789'.split(''));
const hexChar = fc.constantFrom(...'0123456789abcdef'.split(''));
const word = (chars: fc.Arbitrary<string>, min: number, max: number) =>
  fc.array(chars, { minLength: min, maxLength: max }).map((a) => a.join(''));

/** A name component: [a-z0-9]+((\.|_|__|-+)[a-z0-9]+)* */
export const nameComponent = fc
  .tuple(word(lowerAlnum, 1, 6), fc.array(fc.tuple(fc.constantFrom('.', '_', '__', '-', '--'), word(lowerAlnum, 1, 6)), { maxLength: 3 }))
  .map(([head, rest]) => head + rest.map(([sep, part]) => sep + part).join(''));

/** A repository name within the 255-character cap. */
export const repositoryName = fc
  .array(nameComponent, { minLength: 1, maxLength: 4 })
  .map((parts) => parts.join('/'))
  .filter((name) => name.length <= 255);

/** [a-zA-Z0-9_][a-zA-Z0-9._-]{0,127} */
export const tag = fc
  .tuple(fc.oneof(alnum, fc.constant('_')), word(fc.oneof(alnum, fc.constantFrom('.', '_', '-')), 0, 127))
  .map(([first, rest]) => first + rest);

export const sha256Digest = word(hexChar, 64, 64).map((hex) => `sha256:${hex}`);
export const sha512Digest = word(hexChar, 128, 128).map((hex) => `sha512:${hex}`);
export const digest = fc.oneof(sha256Digest, sha512Digest);

/** Fragments attackers and broken clients put in paths: traversal, encodings, separators, control bytes. */
const hostileFragment = fc.constantFrom(
  '..', '.', '/', '//', '%2e%2e', '%2F', '%00', '\\', '..\\', ':', '@', '#', '?', ' ', '\t', '\r\n', '\u0000',
  'manifests', 'blobs', 'tags', 'list', 'referrers', 'uploads', '_catalog', 'sha256:', 'sha512:', 'md5:',
  'library', 'docker.io', 'gcr.io', 'localhost', 'A', 'é', '\u202e', '*', '%', '%%', '~', '\uffff', '\ud800',
);

/** Strings near the grammar: valid pieces and hostile fragments glued together. */
export const nearGrammar = fc
  .array(fc.oneof(nameComponent, tag, digest, hostileFragment, fc.string({ maxLength: 8 })), { maxLength: 10 })
  .map((parts) => parts.join(''));

/** Anything: full-unicode strings, near-grammar strings, and long runs. */
export const anyString = fc.oneof(
  fc.string({ maxLength: 300, unit: 'binary' }),
  nearGrammar,
  fc.string({ maxLength: 40, unit: 'grapheme-ascii' }),
  fc.tuple(fc.constantFrom('a', '/', '.', '-', '0'), fc.integer({ min: 200, max: 2_000 })).map(([c, n]) => c.repeat(n)),
);

/** A request path under /v2/: usually route-shaped, sometimes pure noise. */
export const v2Path = fc.oneof(
  fc
    .tuple(
      fc.oneof(repositoryName, nearGrammar),
      fc.constantFrom('manifests', 'blobs', 'tags', 'referrers', 'blobs/uploads'),
      fc.oneof(tag, digest, nearGrammar, fc.constant('list')),
    )
    .map(([name, kind, ref]) => `/v2/${name}/${kind}/${ref}`),
  nearGrammar.map((rest) => `/v2/${rest}`),
  anyString,
);

/**
 * Spellings of an admin API path that a lenient router, a proxy or a path normaliser might read as the same route:
 * percent-encoded characters (either hex case), dot segments (plain and encoded), doubled slashes, flipped case,
 * encoded slashes, a trailing oddity, and the absolute or network-path form.
 */
export function adminTargetSpelling(path: string): fc.Arbitrary<string> {
  const pct = (c: string, lower: boolean) => {
    const hex = c.charCodeAt(0).toString(16).padStart(2, '0');
    return `%${lower ? hex : hex.toUpperCase()}`;
  };
  type Op = (segments: string[]) => string[];
  const at = (n: number, len: number) => (len === 0 ? 0 : n % len);
  const encodeChar = fc.tuple(fc.nat(), fc.nat(), fc.boolean()).map(([s, c, lower]): Op => (segs) =>
    segs.map((seg, i) => (i !== at(s, segs.length) || seg.length === 0 ? seg : seg.slice(0, at(c, seg.length)) + pct(seg[at(c, seg.length)] ?? 'a', lower) + seg.slice(at(c, seg.length) + 1))),
  );
  const flipCase = fc.tuple(fc.nat(), fc.nat()).map(([s, c]): Op => (segs) =>
    segs.map((seg, i) => {
      if (i !== at(s, segs.length) || seg.length === 0) return seg;
      const k = at(c, seg.length);
      const ch = seg[k] ?? '';
      return seg.slice(0, k) + (ch === ch.toUpperCase() ? ch.toLowerCase() : ch.toUpperCase()) + seg.slice(k + 1);
    }),
  );
  const insert = (what: fc.Arbitrary<string[]>) =>
    fc.tuple(fc.nat(), what).map(([s, extra]): Op => (segs) => [...segs.slice(0, at(s, segs.length + 1)), ...extra, ...segs.slice(at(s, segs.length + 1))]);
  const dots = insert(fc.constantFrom(['.'], ['%2e'], ['%2E'], ['x', '..'], ['x', '%2e%2e'], ['x', '.%2e'], ['']));
  const joinEncoded = fc.tuple(fc.nat(), fc.constantFrom('%2F', '%2f', '\\', '%5C')).map(([s, sep]): Op => (segs) => {
    if (segs.length < 2) return segs;
    const k = at(s, segs.length - 1);
    return [...segs.slice(0, k), `${segs[k] ?? ''}${sep}${segs[k + 1] ?? ''}`, ...segs.slice(k + 2)];
  });
  const ops = fc.array(fc.oneof(encodeChar, flipCase, dots, joinEncoded), { minLength: 1, maxLength: 4 });
  const prefix = fc.constantFrom('', '', '', 'http://127.0.0.1', 'http://evil.example', 'HTTP://localhost', '//evil.example', '/');
  const suffix = fc.constantFrom('', '', '/', '//', '%2F', ';', ';a=b', '?', '?x=1', '#', '%20', '.', '/.', '/..', '%3F');
  return fc.tuple(prefix, ops, suffix).map(([pre, list, post]) => {
    const segments = list.reduce((segs, op) => op(segs), path.split('/').slice(1));
    return `${pre}/${segments.join('/')}${post}`;
  });
}
