import assert from 'node:assert/strict';
import { BlockList } from 'node:net';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { isPrivateAddress } from '../../../src/upstream/special-addresses.js';
import { propertyOptions } from '../../support/grammar-arbitraries.js';

// An independent reading of the IPv4 table (IANA IPv4 Special-Purpose Address Registry, not globally reachable,
// plus multicast), through Node's own BlockList rather than the guard's arithmetic.
const ipv4Reference = new BlockList();
for (const [net, bits] of [
  ['0.0.0.0', 8], ['10.0.0.0', 8], ['100.64.0.0', 10], ['127.0.0.0', 8], ['169.254.0.0', 16], ['172.16.0.0', 12],
  ['192.0.0.0', 24], ['192.0.2.0', 24], ['192.88.99.0', 24], ['192.168.0.0', 16], ['198.18.0.0', 15],
  ['198.51.100.0', 24], ['203.0.113.0', 24], ['224.0.0.0', 4], ['240.0.0.0', 4],
] as const) {
  ipv4Reference.addSubnet(net, bits, 'ipv4');
}

const octets = fc.tuple(fc.nat(255), fc.nat(255), fc.nat(255), fc.nat(255));
const hex = (a: number, b: number): string => ((a << 8) | b).toString(16);

describe('the private-address table under arbitrary addresses', () => {
  it('an IPv4 address is private exactly when the IANA table says so', () => {
    fc.assert(
      fc.property(octets, ([a, b, c, d]) => {
        const v4 = `${a}.${b}.${c}.${d}`;
        assert.equal(isPrivateAddress(v4), ipv4Reference.check(v4, 'ipv4'), v4);
      }),
      propertyOptions(5000),
    );
  });

  it('an IPv4 address carried in IPv6 (mapped in both spellings, NAT64, 6to4) is judged as that IPv4 address', () => {
    fc.assert(
      fc.property(octets, ([a, b, c, d]) => {
        const v4 = `${a}.${b}.${c}.${d}`;
        const expected = isPrivateAddress(v4);
        for (const v6 of [`::ffff:${v4}`, `::ffff:${hex(a, b)}:${hex(c, d)}`, `[0:0:0:0:0:ffff:${v4}]`, `64:ff9b::${v4}`, `64:ff9b::${hex(a, b)}:${hex(c, d)}`, `2002:${hex(a, b)}:${hex(c, d)}::1`]) {
          assert.equal(isPrivateAddress(v6), expected, `${v6} as ${v4}`);
        }
      }),
      propertyOptions(3000),
    );
  });

  it('the deprecated IPv4-compatible block ::/96 is always private', () => {
    fc.assert(
      fc.property(octets, ([a, b, c, d]) => assert.equal(isPrivateAddress(`::${a}.${b}.${c}.${d}`), true)),
      propertyOptions(1000),
    );
  });

  it('a host name is never an address', () => {
    fc.assert(
      fc.property(fc.domain(), (name) => assert.equal(isPrivateAddress(name), false)),
      propertyOptions(1000),
    );
  });
});
