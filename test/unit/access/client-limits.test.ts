// Per-client limits keyed the way addresses are handed out: an IPv6 client is its /64 (one host's share of a
// subnet, where a single machine picks new addresses at will), and the map of clients has a bound however many
// addresses a scan comes from.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ClientLimits, limitKey, maxTrackedClients } from '../../../src/access/client-limits.js';

describe('the key a client is limited under', () => {
  const table: [string, string, string][] = [
    ['an IPv4 address is itself', '203.0.113.7', '203.0.113.7'],
    ['an IPv6 address is its /64', '2001:db8:1:2:aaaa:bbbb:cccc:dddd', '2001:db8:1:2::/64'],
    ['a compressed IPv6 address is expanded before it is cut', '2001:db8::1', '2001:db8:0:0::/64'],
    ['an IPv6 address in upper case reads the same', '2001:DB8:1:2::9', '2001:db8:1:2::/64'],
    ['an IPv6 address with an embedded IPv4 tail is cut the same', '2001:db8:1:2::192.0.2.1', '2001:db8:1:2::/64'],
    ['a user is itself', 'user:alice', 'user:alice'],
  ];
  for (const [name, client, key] of table) it(name, () => assert.equal(limitKey(client), key));
});

describe('IPv6 clients are rate limited per /64', () => {
  it('addresses of one /64 share one bucket; another /64 has its own', () => {
    const limits = new ClientLimits({ requestsPerSecond: 1, burst: 2 }, () => 1_000_000);
    assert.equal(limits.take('2001:db8:1:2::1'), 0);
    assert.equal(limits.take('2001:db8:1:2::2'), 0);
    assert.ok(limits.take('2001:db8:1:2:ffff:ffff:ffff:ffff') > 0, 'a third address of the same /64 is limited');
    assert.ok(limits.take('2001:db8:1:2::abcd') > 0);
    assert.equal(limits.take('2001:db8:1:3::1'), 0, 'the next /64 is another client');
  });

  it('concurrent transfers count per /64 too', () => {
    const limits = new ClientLimits({ concurrentTransfers: 1 });
    assert.equal(limits.startTransfer('2001:db8:1:2::1'), true);
    assert.equal(limits.startTransfer('2001:db8:1:2::2'), false);
    limits.endTransfer('2001:db8:1:2::1');
    assert.equal(limits.startTransfer('2001:db8:1:2::2'), true);
  });
});

describe('the client map is bounded', () => {
  it('a scan from more addresses than the bound, all within the sweep interval, keeps at most the bound', () => {
    const limits = new ClientLimits({ requestsPerSecond: 1, burst: 1 }, () => 5_000_000);
    for (let i = 0; i < maxTrackedClients + 20_000; i++) limits.take(`10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`);
    assert.ok(limits.clients <= maxTrackedClients, `${limits.clients} clients tracked`);
  });

  it('the clients dropped first are the least recently seen: an active client stays limited', () => {
    const now = 5_000_000; // one instant: nothing is old enough to be swept as idle
    const limits = new ClientLimits({ requestsPerSecond: 0.001, burst: 1 }, () => now);
    assert.equal(limits.take('192.0.2.1'), 0);
    for (let i = 0; i < maxTrackedClients + 10; i++) {
      if (i % 1000 === 0) assert.ok(limits.take('192.0.2.1') > 0, 'the active client is still limited');
      limits.take(`10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`);
    }
    assert.ok(limits.take('192.0.2.1') > 0);
  });
});
