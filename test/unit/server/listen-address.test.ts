import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { parseListenAddress } from '../../../src/server/listen-address.js';

describe('parseListenAddress', () => {
  const table: [string, string, { host: string; port: number }][] = [
    ['host:port is read', '127.0.0.1:5000', { host: '127.0.0.1', port: 5000 }],
    ['a hostname is read', 'localhost:5443', { host: 'localhost', port: 5443 }],
    [':port listens on all interfaces', ':5000', { host: '0.0.0.0', port: 5000 }],
    ['a bare port listens on all interfaces', '5000', { host: '0.0.0.0', port: 5000 }],
    ['a bracketed IPv6 address loses its brackets', '[::1]:5001', { host: '::1', port: 5001 }],
    ['the IPv6 any address is read', '[::]:5000', { host: '::', port: 5000 }],
    ['port 0 asks for any free port', '127.0.0.1:0', { host: '127.0.0.1', port: 0 }],
    ['the highest port is read', ':65535', { host: '0.0.0.0', port: 65535 }],
  ];
  for (const [name, input, expected] of table) it(name, () => assert.deepEqual(parseListenAddress(input), expected));

  const refused: [string, string][] = [
    ['an empty string is refused', ''],
    ['a host without a port is refused', 'localhost'],
    ['a host with an empty port is refused', '127.0.0.1:'],
    ['a named port is refused', ':http'],
    ['an unbracketed IPv6 address is refused', '::1:5000'],
    ['a six-digit port is refused', ':123456'],
    ['a URL is refused', 'http://127.0.0.1:5000'],
    ['a port above 65535 is refused', ':70000'],
  ];
  for (const [name, input] of refused) it(name, () => assert.throws(() => parseListenAddress(input), /invalid listen address/));
});
