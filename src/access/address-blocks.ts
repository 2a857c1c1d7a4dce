// The blocks a client address is counted under by the limits (client-limits.ts, login-limiter.ts): one subscriber
// usually holds a whole IPv6 /64 and picks addresses from it at will (RFC 4291 2.5.4, RFC 8981), and a site is often
// given a /48 (65536 /64s). An IPv4 address, also IPv4-mapped, is its own block.
import { isIP } from 'node:net';
import { unmapped } from '../config/address-list.js';

/** The eight groups of an IPv6 address, lower case without leading zeros; undefined for IPv4 (also mapped) or a name. */
function ipv6Groups(address: string): string[] | undefined {
  const client = unmapped(address);
  if (isIP(client) !== 6) return undefined;
  let text = client.toLowerCase();
  // An embedded IPv4 tail (`::1.2.3.4`) is two groups.
  const v4 = /(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(text);
  if (v4) {
    const [a, b, c, d] = v4.slice(1).map(Number) as [number, number, number, number];
    text = `${text.slice(0, v4.index)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const [head = '', tail] = text.split('::');
  const left = head === '' ? [] : head.split(':');
  const right = tail === undefined || tail === '' ? [] : tail.split(':');
  const zeros = tail === undefined ? [] : Array<string>(8 - left.length - right.length).fill('0');
  return [...left, ...zeros, ...right].map((g) => parseInt(g, 16).toString(16));
}

/** An IPv6 address as its /64 (`2001:db8:1:2::/64`); anything else (IPv4, a mapped IPv4 unmapped, a user) as it is. */
export function subscriberBlock(client: string): string {
  const groups = ipv6Groups(client);
  return groups ? `${groups.slice(0, 4).join(':')}::/64` : unmapped(client);
}

/** The IPv6 /48 an address belongs to (`2001:db8:5::/48`), or undefined for anything else. */
export function siteBlock(address: string): string | undefined {
  const groups = ipv6Groups(address);
  return groups ? `${groups.slice(0, 3).join(':')}::/48` : undefined;
}
