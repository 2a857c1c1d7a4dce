import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { mirrorLink } from '../../../src/mirror/listings.js';
import type { PullContext } from '../../../src/mirror/reply.js';
import { parseRepositoryName } from '../../../src/registry/names.js';
import { Upstream } from '../../../src/upstream/upstream.js';
import { anyString, digest, propertyOptions, repositoryName, tag } from '../../support/grammar-arbitraries.js';
import { upstreamConfig } from '../../support/upstream-config.js';

const config = upstreamConfig('up', 'registry.example.test');
const upstream = new Upstream(config, { timeouts: { connect: 1000, headers: 1000, idle: 1000 } });

function context(clientPath: string, ns: string | undefined): PullContext {
  return {
    upstream,
    repository: parseRepositoryName(clientPath),
    clientPath,
    ...(ns !== undefined ? { ns } : {}),
    tokenRealm: 'http://mirror.test/token/up',
    signal: new AbortController().signal,
    log: {},
  };
}

/** `Link` values as upstreams send them (absolute, relative, other hosts), and noise. */
const linkHeader = fc.oneof(
  anyString,
  fc
    .tuple(
      fc.constantFrom('https://registry.example.test', 'https://evil.test', '', '//evil.test', 'javascript:'),
      repositoryName,
      fc.oneof(fc.constant('tags/list'), digest.map((d) => `referrers/${d}`), anyString),
      fc.array(fc.oneof(tag.map((t) => `last=${t}`), fc.nat(100).map((n) => `n=${n}`), anyString), { maxLength: 3 }),
      fc.constantFrom('; rel="next"', ';rel=next', '; rel="prev"', ''),
    )
    .map(([origin, repo, suffix, query, rel]) => `<${origin}/v2/${repo}/${suffix}?${query.join('&')}>${rel}`),
);

describe('Link headers under arbitrary input', () => {
  after(() => upstream.close());

  it('a referrers page whose next link is not a referrers URL gets no Link (found by the property below)', () => {
    const link = '<https://registry.example.test/v2/a/tags/list?n=1>; rel="next"';
    assert.equal(mirrorLink(link, context('a', undefined), 'referrers'), undefined);
  });

  it('mirrorLink never throws and only ever points the client back at the same listing on this mirror', () => {
    fc.assert(
      fc.property(
        fc.oneof(linkHeader, fc.array(linkHeader, { maxLength: 2 })),
        repositoryName,
        fc.option(fc.constantFrom('registry.example.test', 'registry.test:5000')),
        fc.constantFrom('tags/list' as const, 'referrers' as const),
        (link, clientPath, ns, what) => {
          const out = mirrorLink(link, context(clientPath, ns ?? undefined), what);
          if (out === undefined) return;
          const m = /^<([^<>]*)>; rel="next"$/.exec(out);
          assert.ok(m, `not a single next link: ${JSON.stringify(out)}`);
          const target = new URL(m[1]!, 'http://mirror.test');
          assert.equal(target.origin, 'http://mirror.test', `link leaves the mirror: ${out}`);
          const endpoint = what === 'tags/list' ? 'tags/list' : 'referrers/';
          assert.ok(target.pathname.startsWith(`/v2/${clientPath}/${endpoint}`), `link to another endpoint: ${out}`);
          if (what === 'referrers') assert.doesNotMatch(target.pathname.slice(`/v2/${clientPath}/`.length), /\/v2\//);
          assert.equal(target.searchParams.get('ns'), ns ?? null);
          for (const key of target.searchParams.keys()) assert.ok(['n', 'last', 'artifactType', 'ns'].includes(key), `forwarded ${key}`);
        },
      ),
      propertyOptions(3000),
    );
  });
});
