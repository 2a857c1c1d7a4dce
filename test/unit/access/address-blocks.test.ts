import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { siteBlock, subscriberBlock } from '../../../src/access/address-blocks.js';

describe('the blocks a client address is counted under', () => {
  const table: [string, string, string | undefined][] = [
    ['203.0.113.7', '203.0.113.7', undefined],
    ['::ffff:203.0.113.7', '203.0.113.7', undefined],
    ['2001:DB8:0001:0002:aaaa::1', '2001:db8:1:2::/64', '2001:db8:1::/48'],
    ['2001:db8:1:2:ffff:ffff:ffff:ffff', '2001:db8:1:2::/64', '2001:db8:1::/48'],
    ['2001:db8::1', '2001:db8:0:0::/64', '2001:db8:0::/48'],
    ['::1', '0:0:0:0::/64', '0:0:0::/48'],
    ['64:ff9b::198.51.100.1', '64:ff9b:0:0::/64', '64:ff9b:0::/48'],
    ['2001:db8:1:2:3:4:1.2.3.4', '2001:db8:1:2::/64', '2001:db8:1::/48'],
    // IPv4-mapped written another way is still that one IPv4 client, not the one block ::/64 of every such client.
    ['0:0:0:0:0:ffff:203.0.113.7', '203.0.113.7', undefined],
    ['0:0:0:0:0:FFFF:cb00:7107', '203.0.113.7', undefined],
    ['::ffff:cb00:7108', '203.0.113.8', undefined],
    // A zone is no part of the groups (it may hold dots and colons), and the same link-local /64 on two links is two.
    ['fe80::1%eth0', 'fe80:0:0:0::/64%eth0', 'fe80:0:0::/48%eth0'],
    ['fe80::1%eth1', 'fe80:0:0:0::/64%eth1', 'fe80:0:0::/48%eth1'],
    ['fe80::1:2%1.2.3.4', 'fe80:0:0:0::/64%1.2.3.4', 'fe80:0:0::/48%1.2.3.4'],
    ['alice', 'alice', undefined],
  ];
  for (const [address, subscriber, site] of table) {
    it(`${address}: ${subscriber}, ${site ?? 'no site block'}`, () => {
      assert.equal(subscriberBlock(address), subscriber);
      assert.equal(siteBlock(address), site);
    });
  }
});
