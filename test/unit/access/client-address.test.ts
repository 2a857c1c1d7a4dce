// X-Forwarded-For hops as proxies write them: an address, or an address with the port the client connected from.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { AddressList } from '../../../src/config/address-list.js';
import { clientAddress } from '../../../src/access/client-address.js';

describe('an X-Forwarded-For hop with a port', () => {
  const trusted = new AddressList(['127.0.0.1', '10.0.0.0/8']);
  const table: [string, string, string][] = [
    ['an IPv4 hop with a port is read as its address', '203.0.113.7:51234', '203.0.113.7'],
    ['a bracketed IPv6 hop with a port is read as its address', '[2001:db8::1]:443', '2001:db8::1'],
    ['a bracketed IPv6 hop without a port is read as its address', '[2001:db8::1]', '2001:db8::1'],
    ['a bracketed IPv4-mapped hop with a port is read as IPv4', '[::ffff:203.0.113.7]:443', '203.0.113.7'],
    ['ported hops are skipped when trusted, like bare ones', '203.0.113.7:1, 10.0.0.9:8080', '203.0.113.7'],
    ['an unbracketed IPv6 hop is read whole, never as address and port', '2001:db8::1', '2001:db8::1'],
  ];
  for (const [name, header, expected] of table) it(name, () => assert.equal(clientAddress('127.0.0.1', header, trusted), expected));

  it('a hop whose port is not a port is malformed: nothing beyond the proxy is trusted', () => {
    assert.equal(clientAddress('127.0.0.1', '203.0.113.7:http', trusted), '127.0.0.1');
    assert.equal(clientAddress('127.0.0.1', '203.0.113.7:123456', trusted), '127.0.0.1');
  });
});
