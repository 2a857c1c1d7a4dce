import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { bearerChallenge, formatChallenge, parseChallenges, type Challenge } from '../../../src/upstream/challenge.js';

const bearer = (params: Record<string, string>): Challenge => ({ scheme: 'bearer', params });
const basic = (params: Record<string, string>): Challenge => ({ scheme: 'basic', params });

// Challenges observed from real upstreams (docs/protocol.md, "Challenges" and "Upstream registries").
const upstreams: [string, string, Challenge][] = [
  ['Docker Hub /v2/', 'Bearer realm="https://auth.docker.io/token",service="registry.docker.io"',
    bearer({ realm: 'https://auth.docker.io/token', service: 'registry.docker.io' })],
  ['Docker Hub repository',
    'Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/golang:pull"',
    bearer({ realm: 'https://auth.docker.io/token', service: 'registry.docker.io', scope: 'repository:library/golang:pull' })],
  ['gcr.io', 'Bearer realm="https://gcr.io/v2/token",service="gcr.io"', bearer({ realm: 'https://gcr.io/v2/token', service: 'gcr.io' })],
  ['Artifact Registry /v2/ without service', 'Bearer realm="https://us-docker.pkg.dev/v2/token"',
    bearer({ realm: 'https://us-docker.pkg.dev/v2/token' })],
  ['quay.io', 'Bearer realm="https://quay.io/v2/auth",service="quay.io"', bearer({ realm: 'https://quay.io/v2/auth', service: 'quay.io' })],
  ['ghcr.io', 'Bearer realm="https://ghcr.io/token",service="ghcr.io",scope="repository:user/image:pull"',
    bearer({ realm: 'https://ghcr.io/token', service: 'ghcr.io', scope: 'repository:user/image:pull' })],
  ['public.ecr.aws with scope "aws"', 'Bearer realm="https://public.ecr.aws/token/",service="public.ecr.aws",scope="aws"',
    bearer({ realm: 'https://public.ecr.aws/token/', service: 'public.ecr.aws', scope: 'aws' })],
  ['registry.k8s.io', 'Bearer realm="https://registry.k8s.io/token",service="registry.k8s.io"',
    bearer({ realm: 'https://registry.k8s.io/token', service: 'registry.k8s.io' })],
];

const cases: [string, string | string[] | undefined, Challenge[]][] = [
  ...upstreams.map(([name, header, ch]): [string, string, Challenge[]] => [`reads ${name}'s challenge`, header, [ch]]),
  ['reads several challenges in one line', 'Basic realm="x", Bearer realm="y",service="z"',
    [basic({ realm: 'x' }), bearer({ realm: 'y', service: 'z' })]],
  ['reads one challenge per header line', ['Basic realm="x"', 'Bearer realm="y"'], [basic({ realm: 'x' }), bearer({ realm: 'y' })]],
  ['reads the RFC 7235 example with a token value and escaped quotes',
    'Newauth realm="apps", type=1, title="Login to \\"apps\\"", Basic realm="simple"',
    [{ scheme: 'newauth', params: { realm: 'apps', type: '1', title: 'Login to "apps"' } }, basic({ realm: 'simple' })]],
  ['keeps commas and spaces inside quoted values', 'Bearer realm="https://a/token",scope="repository:a:pull,push repository:b:pull"',
    [bearer({ realm: 'https://a/token', scope: 'repository:a:pull,push repository:b:pull' })]],
  ['unescapes backslashes in quoted values', 'Bearer realm="a\\\\b\\"c\\d"', [bearer({ realm: 'a\\b"cd' })]],
  ['reads bare token values', 'Bearer realm="https://gcr.io/v2/token",service=gcr.io',
    [bearer({ realm: 'https://gcr.io/v2/token', service: 'gcr.io' })]],
  ['reads an unquoted URL value', 'Bearer realm=https://x.test/token?a=b,service=x',
    [bearer({ realm: 'https://x.test/token?a=b', service: 'x' })]],
  ['allows whitespace around "=" and commas', 'Bearer realm = "x" ,\tservice= y ', [bearer({ realm: 'x', service: 'y' })]],
  ['lower-cases a lower-case scheme', 'bearer realm="x"', [bearer({ realm: 'x' })]],
  ['lower-cases an upper-case scheme and parameter names', 'BEARER Realm="x",SERVICE="y"', [bearer({ realm: 'x', service: 'y' })]],
  ['reads error="invalid_token"', 'Bearer realm="r",service="s",error="invalid_token"',
    [bearer({ realm: 'r', service: 's', error: 'invalid_token' })]],
  ['reads error="insufficient_scope" with its scope', 'Bearer realm="r",error="insufficient_scope",scope="repository:a:pull"',
    [bearer({ realm: 'r', error: 'insufficient_scope', scope: 'repository:a:pull' })]],
  ['ignores a token68 and reads the next challenge', 'Basic dXNlcjpwYXNz==, Bearer realm="x"', [basic({}), bearer({ realm: 'x' })]],
  ['ignores a token68 with "/" and "+"', 'Negotiate a/b+c=', [{ scheme: 'negotiate', params: {} }]],
  ['reads a scheme without parameters', 'Bearer', [bearer({})]],
  ['keeps the first of a repeated parameter', 'Bearer realm="first",realm="second"', [bearer({ realm: 'first' })]],
  ['skips empty list elements', ', Bearer realm="x",, service="y" ,', [bearer({ realm: 'x', service: 'y' })]],
  ['tolerates parameters separated by spaces only', 'Bearer realm="x" service="y"', [bearer({ realm: 'x', service: 'y' })]],
  ['returns nothing for an absent header', undefined, []],
  ['returns nothing for an empty header', '', []],
  ['returns nothing for commas and spaces', '  , ,\t,', []],
  ['returns nothing for an empty list of lines', [], []],
  ['drops an unterminated quoted value', 'Bearer realm="https://a/tok', [bearer({})]],
  ['drops a value ending in a lone backslash', 'Bearer realm="a\\', [bearer({})]],
  ['drops a parameter without a value', 'Bearer realm=, service="s"', [bearer({ service: 's' })]],
  ['skips a quoted string where a scheme should be', '"junk, still junk", Basic realm="r"', [basic({ realm: 'r' })]],
  ['skips a scheme glued to punctuation', 'Bearer/realm="x", Basic', [basic({})]],
  ['keeps what it read before garbage', 'Bearer realm="x", @@@, service="y"', [bearer({ realm: 'x' })]],
  ['skips garbage after a parameter up to the next comma', 'Bearer realm="x" !!, service="y"', [bearer({ realm: 'x', service: 'y' })]],
  ['skips control characters', '\u0000\u0001, Bearer realm="x"', [bearer({ realm: 'x' })]],
];

describe('parseChallenges', () => {
  for (const [name, input, expected] of cases) {
    it(name, () => assert.deepEqual(parseChallenges(input), expected));
  }

  it('stores a "__proto__" parameter as data, not as the prototype', () => {
    const [ch] = parseChallenges('Bearer __proto__="x"');
    assert.equal(Object.getPrototypeOf(ch?.params), Object.prototype);
    assert.equal(Object.getOwnPropertyDescriptor(ch?.params, '__proto__')?.value, 'x');
  });

  it('skips non-string header values at run time', () => {
    assert.deepEqual(parseChallenges([42 as unknown as string, 'Basic']), [basic({})]);
  });

  it('never throws on random input', () => {
    const alphabet = 'Bearer realm="\\, =\t\x00/+a';
    let seed = 7;
    const next = (): number => (seed = (seed * 1103515245 + 12345) % 2147483648);
    for (let i = 0; i < 2000; i++) {
      const input = Array.from({ length: next() % 40 }, () => alphabet[next() % alphabet.length]).join('');
      for (const ch of parseChallenges(input)) assert.match(ch.scheme, /^[!#$%&'*+\-.^_`|~0-9a-z]+$/);
    }
  });
});

describe('bearerChallenge', () => {
  const table: [string, Challenge[], Challenge | undefined][] = [
    ['picks the bearer challenge after a basic one', [basic({ realm: 'b' }), bearer({ realm: 'x' })], bearer({ realm: 'x' })],
    ['picks the first of two bearer challenges', [bearer({ realm: '1' }), bearer({ realm: '2' })], bearer({ realm: '1' })],
    ['returns undefined without a bearer challenge', [basic({ realm: 'b' })], undefined],
    ['returns undefined for no challenges', [], undefined],
  ];
  for (const [name, input, expected] of table) it(name, () => assert.deepEqual(bearerChallenge(input), expected));
});

describe('formatChallenge', () => {
  const table: [string, Challenge, string][] = [
    ['orders realm, service, scope', bearer({ scope: 'repository:a:pull', service: 's', realm: 'https://r/token' }),
      'Bearer realm="https://r/token",service="s",scope="repository:a:pull"'],
    ['puts error after scope and other parameters last, sorted', bearer({ b: '2', error: 'invalid_token', a: '1', realm: 'r' }),
      'Bearer realm="r",error="invalid_token",a="1",b="2"'],
    ['quotes and escapes every value', basic({ realm: 'a"b\\c', charset: 'UTF-8' }), 'Basic realm="a\\"b\\\\c",charset="UTF-8"'],
    ['drops control characters a quoted-string cannot carry', bearer({ realm: 'a\r\nb\tc' }), 'Bearer realm="ab\tc"'],
    ['writes a scheme without parameters alone', basic({}), 'Basic'],
  ];
  for (const [name, input, expected] of table) it(name, () => assert.equal(formatChallenge(input), expected));

  const roundTrips: [string, Challenge][] = [
    ...upstreams.map(([name, , ch]): [string, Challenge] => [name, ch]),
    ['tricky values', bearer({ realm: 'https://m.test/token?ns=a,b', scope: 'repository:a:pull,push repository:b:pull', x: '"\\ =,' })],
  ];
  for (const [name, ch] of roundTrips) {
    it(`round-trips ${name} through parseChallenges`, () => assert.deepEqual(parseChallenges(formatChallenge(ch)), [ch]));
  }
});
