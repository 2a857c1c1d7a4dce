// The pieces of access control: address lists (IPv4, IPv6, mapped addresses), the client address behind trusted
// proxies, repository policy rules, per-client limits and the mirror's own tokens.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { AddressList, isCidr, parseCidr } from '../../../src/config/address-list.js';
import { clientAddress } from '../../../src/access/client-address.js';
import { ClientLimits } from '../../../src/access/client-limits.js';
import { RegistryTokens } from '../../../src/access/registry-tokens.js';
import { RepositoryPolicy } from '../../../src/config/repository-policy.js';

describe('address lists', () => {
  it('read IPv4 and IPv6 addresses and blocks, and refuse anything else', () => {
    assert.deepEqual(parseCidr('10.0.0.0/8'), { address: '10.0.0.0', prefix: 8, family: 'ipv4' });
    assert.deepEqual(parseCidr('2001:db8::/32'), { address: '2001:db8::', prefix: 32, family: 'ipv6' });
    assert.deepEqual(parseCidr('::1'), { address: '::1', prefix: 128, family: 'ipv6' });
    assert.deepEqual(parseCidr('::ffff:192.0.2.1/32'), { address: '192.0.2.1', prefix: 32, family: 'ipv4' });
    for (const bad of ['10.0.0.0/33', '2001:db8::/129', 'example.com', '10.0.0.0/8/1', '10.0.0.0/-1', '10.0.0.0/a', '', '1.2.3']) {
      assert.equal(isCidr(bad), false, bad);
    }
  });

  it('match addresses of either family, IPv4-mapped IPv6 read as IPv4', () => {
    const list = new AddressList(['10.0.0.0/8', '2001:db8::/32', '192.0.2.7']);
    assert.equal(list.has('10.1.2.3'), true);
    assert.equal(list.has('::ffff:10.1.2.3'), true);
    assert.equal(list.has('11.0.0.1'), false);
    assert.equal(list.has('2001:db8:1::5'), true);
    assert.equal(list.has('2001:db9::1'), false);
    assert.equal(list.has('192.0.2.7'), true);
    assert.equal(list.has('192.0.2.8'), false);
    assert.equal(list.has('not an address'), false);
    assert.throws(() => new AddressList(['nope']), /not an address or CIDR block: nope/);
  });
});

describe('the client address', () => {
  const trusted = new AddressList(['127.0.0.1', '10.0.0.0/8']);
  it('is the peer when the peer is not a trusted proxy, whatever X-Forwarded-For says', () => {
    assert.equal(clientAddress('192.0.2.1', '198.51.100.1', trusted), '192.0.2.1');
    assert.equal(clientAddress('::ffff:192.0.2.1', undefined, trusted), '192.0.2.1');
  });
  it('is the nearest untrusted hop of X-Forwarded-For behind trusted proxies, read from the right', () => {
    assert.equal(clientAddress('127.0.0.1', '198.51.100.1', trusted), '198.51.100.1');
    assert.equal(clientAddress('127.0.0.1', '203.0.113.9, 198.51.100.1, 10.0.0.5', trusted), '198.51.100.1');
    assert.equal(clientAddress('127.0.0.1', ['203.0.113.9', '198.51.100.1'], trusted), '198.51.100.1');
    assert.equal(clientAddress('127.0.0.1', '[2001:db8::1]:443', trusted), '2001:db8::1');
  });
  it('falls back to the peer on a malformed hop, and to the first hop when every hop is trusted', () => {
    assert.equal(clientAddress('127.0.0.1', 'garbage, 198.51.100.1', trusted), '198.51.100.1');
    assert.equal(clientAddress('127.0.0.1', '198.51.100.1, garbage', trusted), '127.0.0.1');
    assert.equal(clientAddress('127.0.0.1', '10.0.0.1, 10.0.0.2', trusted), '10.0.0.1');
  });
});

describe('repository policy', () => {
  it('deny wins; with allow rules, anything else is refused; a tag rule matches requests by tag only', () => {
    const p = new RepositoryPolicy({ allow: ['library/*', 'team/app:v*'], deny: ['library/evil'] });
    assert.equal(p.denies('library/alpine', '3.20'), undefined);
    assert.match(p.denies('library/evil', 'latest') ?? '', /denied by rule library\/evil/);
    assert.equal(p.denies('team/app', 'v1.2'), undefined);
    assert.match(p.denies('team/app', 'dev') ?? '', /not in the allowed repositories/);
    assert.equal(p.denies('team/app', undefined), undefined, 'a digest under an allowed repository');
    assert.match(p.denies('other/thing', undefined) ?? '', /not in the allowed/);
  });
  it('without rules everything may be pulled', () => {
    assert.equal(new RepositoryPolicy({}).denies('anything/at/all', 'x'), undefined);
    assert.equal(new RepositoryPolicy({}).empty, true);
  });
  it('a wildcard does not read dots or other characters as patterns', () => {
    const p = new RepositoryPolicy({ deny: ['a.b/*'] });
    assert.ok(p.denies('a.b/c', undefined));
    assert.equal(p.denies('axb/c', undefined), undefined);
  });
});

describe('per-client limits', () => {
  it('a token bucket per client: a burst, then one request per 1/rate seconds', () => {
    let now = 0;
    const limits = new ClientLimits({ requestsPerSecond: 2, burst: 3 }, () => now);
    assert.deepEqual([limits.take('a'), limits.take('a'), limits.take('a')], [0, 0, 0]);
    assert.equal(limits.take('a'), 1);
    assert.equal(limits.take('b'), 0, 'another client has its own bucket');
    now += 500;
    assert.equal(limits.take('a'), 0);
    assert.equal(limits.take('a'), 1);
  });
  it('transfers at once per client, freed when they end', () => {
    const limits = new ClientLimits({ concurrentTransfers: 2 });
    assert.equal(limits.startTransfer('a'), true);
    assert.equal(limits.startTransfer('a'), true);
    assert.equal(limits.startTransfer('a'), false);
    assert.equal(limits.startTransfer('b'), true);
    limits.endTransfer('a');
    assert.equal(limits.startTransfer('a'), true);
  });
  it('no settings: no limits', () => {
    const limits = new ClientLimits({});
    for (let i = 0; i < 1000; i++) assert.equal(limits.take('a'), 0);
    for (let i = 0; i < 1000; i++) assert.equal(limits.startTransfer('a'), true);
  });
});

describe("the mirror's own tokens", () => {
  it('name their user until they expire; altered or foreign ones name nobody', () => {
    let now = 1_000_000;
    const tokens = new RegistryTokens(Buffer.alloc(32, 1), 60, () => now);
    const { token, expiresIn } = tokens.issue('ci');
    assert.equal(expiresIn, 60);
    assert.equal(tokens.verify(token), 'ci');
    const [v, body, sig] = token.split('.');
    const forged = Buffer.from(JSON.stringify({ sub: 'admin', exp: 9e9 })).toString('base64url');
    assert.equal(tokens.verify(`${v}.${forged}.${sig}`), undefined);
    assert.equal(tokens.verify(`${v}.${body}.${'A'.repeat(sig?.length ?? 43)}`), undefined);
    assert.equal(new RegistryTokens(Buffer.alloc(32, 2), 60, () => now).verify(token), undefined, 'another key');
    assert.equal(tokens.verify('not.a.token'), undefined);
    now += 61_000;
    assert.equal(tokens.verify(token), undefined, 'expired');
  });
});
