import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { basicUsername, forwardableAuthorization, isMirrorToken } from '../../../src/upstream/client-credentials.js';

const basic = (pair: string): string => `Basic ${Buffer.from(pair).toString('base64')}`;
const mirrorUsers = new Set(['alice']);
const isMirrorUser = (name: string): boolean => mirrorUsers.has(name);

describe('forwardableAuthorization', () => {
  const table: Array<[string, string | undefined, boolean]> = [
    ['no header', undefined, false],
    ["an upstream's JWT", 'Bearer eyJhbGciOiJSUzI1NiJ9.e30.sig', true],
    ["the mirror's own token", 'Bearer pg1.eyJzdWIiOiJhbGljZSJ9.c2ln', false],
    ["the mirror's own token, scheme in another case", 'bearer pg1.x.y', false],
    ["an expired or forged token of the mirror's kind", 'Bearer pg1.garbage', false],
    ["a mirror user's Basic credentials", basic('alice:mirror-password'), false],
    ["a mirror user's name with a wrong password", basic('alice:typo'), false],
    ['Basic credentials of someone else', basic('bob:upstream-password'), true],
    ['Basic credentials that cannot be read', 'Basic %%%', false],
    ['an empty Basic header', 'Basic', false],
  ];
  for (const [name, header, forwarded] of table) {
    it(`${name}: ${forwarded ? 'forwarded' : 'kept on the mirror'}`, () => {
      assert.equal(forwardableAuthorization(header, isMirrorUser), forwarded ? header : undefined);
    });
  }
});

describe('the pieces', () => {
  it('isMirrorToken knows the prefix of the mirror token endpoint only', () => {
    assert.equal(isMirrorToken('Bearer pg1.a.b'), true);
    assert.equal(isMirrorToken('Bearer pg2.a.b'), false);
    assert.equal(isMirrorToken(basic('pg1.:x')), false);
  });
  it('basicUsername reads the name before the first colon', () => {
    assert.equal(basicUsername(basic('a:b:c')), 'a');
    assert.equal(basicUsername('Bearer x'), undefined);
  });
});
