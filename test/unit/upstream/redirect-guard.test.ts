import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { checkRedirectHost, isPrivateAddress, isPrivateHost, privateRefusingLookup, PrivateRedirectError } from '../../../src/upstream/redirect-guard.js';

describe('isPrivateAddress', () => {
  const cases: Array<[string, boolean]> = [
    ['127.0.0.1', true],
    ['127.8.9.10', true],
    ['10.1.2.3', true],
    ['172.16.0.1', true],
    ['172.31.255.255', true],
    ['172.32.0.1', false],
    ['192.168.1.1', true],
    ['169.254.169.254', true],
    ['100.64.0.1', true],
    ['0.0.0.0', true],
    ['::1', true],
    ['[::1]', true],
    ['fe80::1', true],
    ['fd00::1', true],
    ['::ffff:127.0.0.1', true],
    ['::ffff:8.8.8.8', false],
    ['8.8.8.8', false],
    ['2001:4860:4860::8888', false],
    ['registry.example.com', false],
  ];
  for (const [address, expected] of cases) {
    it(`${address} is ${expected ? 'private' : 'public'}`, () => assert.equal(isPrivateAddress(address), expected));
  }
});

describe('redirect checks', () => {
  it('a literal private address is refused before anything is dialled', () => {
    assert.throws(() => checkRedirectHost('169.254.169.254'), PrivateRedirectError);
    assert.throws(() => checkRedirectHost('[::1]'), PrivateRedirectError);
    assert.doesNotThrow(() => checkRedirectHost('203.0.113.9'));
  });

  it('the dial-time lookup refuses a name that resolves to loopback (localhost, through the real resolver)', async () => {
    const err = await new Promise<unknown>((resolve) => privateRefusingLookup('localhost', { all: true }, (e) => resolve(e)));
    assert.ok(err instanceof PrivateRedirectError, String(err));
    assert.match(err.message, /localhost.*private address/);
  });

  it('an upstream on localhost or a private literal is private itself; an unresolvable name counts as public', async () => {
    assert.equal(await isPrivateHost('localhost'), true);
    assert.equal(await isPrivateHost('127.0.0.1'), true);
    assert.equal(await isPrivateHost('198.51.100.7'), false);
    assert.equal(await isPrivateHost('registry.invalid'), false);
  });
});
