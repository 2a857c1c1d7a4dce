// The blocks a client address is counted under by the limits (client-limits.ts, login-limiter.ts): one subscriber
// usually holds a whole IPv6 /64 and picks addresses from it at will (RFC 4291 2.5.4, RFC 8981), and a site is often
// given a /48 (65536 /64s). An IPv4 address, also IPv4-mapped however written, is its own block.
import { isIP } from 'node:net';
import { unmapped } from '../config/address-list.js';

type Parsed =
  /** The eight groups, lower case without leading zeros; the zone (`%eth0`) of a scoped address, else empty. */
  | { groups: string[]; zone: string }
  /** An IPv4-mapped address written another way than `::ffff:1.2.3.4` (`0:0:0:0:0:ffff:1.2.3.4`, `::ffff:102:304`). */
  | { ipv4: string };

/** An IPv6 address parsed; undefined for IPv4 (also `::ffff:1.2.3.4`) or a name. */
function parse(address: string): Parsed | undefined {
  const client = unmapped(address);
  if (isIP(client) !== 6) return undefined;
  // The zone (`fe80::1%eth0`) may hold any characters, dots and colons too: it is no part of the groups, and the
  // same link-local prefix on two links is two blocks.
  const cut = client.indexOf('%');
  const zone = cut < 0 ? '' : client.slice(cut);
  let text = (cut < 0 ? client : client.slice(0, cut)).toLowerCase();
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
  const values = [...left, ...zeros, ...right].map((g) => parseInt(g, 16));
  if (values.slice(0, 5).every((g) => g === 0) && values[5] === 0xffff) {
    const [hi = 0, lo = 0] = values.slice(6);
    return { ipv4: [hi >> 8, hi & 255, lo >> 8, lo & 255].join('.') };
  }
  return { groups: values.map((g) => g.toString(16)), zone };
}

/** An IPv6 address as its /64 (`2001:db8:1:2::/64`); anything else (IPv4, a mapped IPv4 unmapped, a user) as it is. */
export function subscriberBlock(client: string): string {
  const p = parse(client);
  if (!p) return unmapped(client);
  return 'ipv4' in p ? p.ipv4 : `${p.groups.slice(0, 4).join(':')}::/64${p.zone}`;
}

/** The IPv6 /48 an address belongs to (`2001:db8:5::/48`), or undefined for anything else. */
export function siteBlock(address: string): string | undefined {
  const p = parse(address);
  return p && 'groups' in p ? `${p.groups.slice(0, 3).join(':')}::/48${p.zone}` : undefined;
}
