import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { parseChallenges, type Challenge } from '../../../src/upstream/challenge.js';
import { rewriteChallenge, tokenRealmFor } from '../../../src/upstream/realm-rewrite.js';

const realm = 'https://gcr.mirror.test/token/gcr';

describe('rewriteChallenge', () => {
  const table: [string, Challenge, string][] = [
    ['replaces the realm and keeps service and scope',
      { scheme: 'bearer', params: { realm: 'https://gcr.io/v2/token', service: 'gcr.io', scope: 'repository:distroless/base:pull' } },
      `Bearer realm="${realm}",service="gcr.io",scope="repository:distroless/base:pull"`],
    ['keeps the error of an invalid_token challenge',
      { scheme: 'bearer', params: { realm: 'https://auth.docker.io/token', service: 'registry.docker.io', error: 'invalid_token' } },
      `Bearer realm="${realm}",service="registry.docker.io",error="invalid_token"`],
    ['keeps several space-separated scopes in one param',
      { scheme: 'bearer', params: { realm: 'https://a.test/token', scope: 'repository:a:pull repository:b:pull,push' } },
      `Bearer realm="${realm}",scope="repository:a:pull repository:b:pull,push"`],
    ["writes only the realm for Artifact Registry's bare /v2/ challenge",
      { scheme: 'bearer', params: { realm: 'https://us-docker.pkg.dev/v2/token' } }, `Bearer realm="${realm}"`],
    ['adds a realm to a challenge that had none', { scheme: 'bearer', params: { service: 's' } }, `Bearer realm="${realm}",service="s"`],
    ['always writes a Bearer challenge', { scheme: 'Bearer', params: { realm: 'x' } }, `Bearer realm="${realm}"`],
  ];
  for (const [name, challenge, expected] of table) it(name, () => assert.equal(rewriteChallenge(challenge, realm), expected));

  it('the rewritten challenge parses back with only the realm changed', () => {
    const upstream: Challenge = { scheme: 'bearer', params: { realm: 'https://ghcr.io/token', service: 'ghcr.io', scope: 'repository:u/i:pull' } };
    assert.deepEqual(parseChallenges(rewriteChallenge(upstream, realm)), [{ scheme: 'bearer', params: { ...upstream.params, realm } }]);
  });

  it('does not change the challenge it was given', () => {
    const upstream: Challenge = { scheme: 'bearer', params: { realm: 'https://gcr.io/v2/token', service: 'gcr.io' } };
    rewriteChallenge(upstream, realm);
    assert.equal(upstream.params.realm, 'https://gcr.io/v2/token');
  });
});

describe('tokenRealmFor', () => {
  const table: [string, string, string, string][] = [
    ['appends /token/<upstream> to the base URL', 'https://gcr.mirror.test', 'gcr', 'https://gcr.mirror.test/token/gcr'],
    ['drops a trailing slash of the base URL', 'https://gcr.mirror.test/', 'gcr', 'https://gcr.mirror.test/token/gcr'],
    ['drops several trailing slashes', 'https://mirror.test//', 'hub', 'https://mirror.test/token/hub'],
    ['keeps a base path and a port', 'https://mirror.test:5443/pullgate/', 'ecr-public', 'https://mirror.test:5443/pullgate/token/ecr-public'],
    ['percent-encodes the upstream name', 'http://m.test', 'a b/c', 'http://m.test/token/a%20b%2Fc'],
  ];
  for (const [name, base, upstream, expected] of table) it(name, () => assert.equal(tokenRealmFor(base, upstream), expected));
});
