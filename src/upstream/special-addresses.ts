// Which IP addresses the mirror must not be sent to by an upstream (docs/security.md, "Mirror and upstream"):
// every block of the IANA IPv4 and IPv6 Special-Purpose Address Registries that is not globally reachable, plus
// multicast (224.0.0.0/4, ff00::/8). Addresses that carry an IPv4 address (IPv4-mapped, IPv4-compatible, NAT64
// 64:ff9b::/96 and 6to4 2002::/16) are judged by that IPv4 address, in any spelling, so that `[::ffff:7f00:1]`
// or `[64:ff9b::a9fe:a9fe]` cannot reach loopback or a metadata service; a public address behind NAT64 stays usable.
import { isIP } from 'node:net';

type Block = readonly [prefix: bigint, bits: number];

const v4 = (text: string): bigint => text.split('.').reduce((n, part) => (n << 8n) | BigInt(Number(part)), 0n);

const ipv4Blocks: Block[] = (
  [
    ['0.0.0.0', 8], // "this network"
    ['10.0.0.0', 8], // private use
    ['100.64.0.0', 10], // shared address space (carrier-grade NAT)
    ['127.0.0.0', 8], // loopback
    ['169.254.0.0', 16], // link-local, cloud metadata services
    ['172.16.0.0', 12], // private use
    ['192.0.0.0', 24], // IETF protocol assignments
    ['192.0.2.0', 24], // documentation (TEST-NET-1)
    ['192.88.99.0', 24], // 6to4 relay anycast (deprecated)
    ['192.168.0.0', 16], // private use
    ['198.18.0.0', 15], // benchmarking
    ['198.51.100.0', 24], // documentation (TEST-NET-2)
    ['203.0.113.0', 24], // documentation (TEST-NET-3)
    ['224.0.0.0', 4], // multicast
    ['240.0.0.0', 4], // reserved, and the limited broadcast address
  ] as const
).map(([net, bits]) => [v4(net), bits]);

const ipv6Blocks: Block[] = (
  [
    ['0000', 96], // unspecified, loopback and the deprecated IPv4-compatible addresses
    ['0064ff9b0001', 48], // local-use IPv4/IPv6 translation
    ['0100', 64], // discard-only
    ['2001', 23], // IETF protocol assignments (Teredo, ORCHID, benchmarking...)
    ['20010db8', 32], // documentation
    ['3fff', 20], // documentation
    ['5f00', 16], // segment routing (SRv6) SIDs
    ['fc', 7], // unique local
    ['fe80', 10], // link-local
    ['fec0', 10], // site-local (deprecated)
    ['ff', 8], // multicast
  ] as const
).map(([hex, bits]) => [BigInt(`0x${hex.padEnd(32, '0')}`), bits]);

const inBlock = (value: bigint, width: number, [prefix, bits]: Block): boolean => value >> BigInt(width - bits) === prefix >> BigInt(width - bits);

/** The 128-bit value of an IPv6 address in any valid spelling (`::`, an embedded dotted IPv4 tail). */
function ipv6Value(text: string): bigint {
  let head = text;
  const dotted = /(\d+\.\d+\.\d+\.\d+)$/.exec(head)?.[1];
  if (dotted) {
    const n = v4(dotted);
    head = `${head.slice(0, -dotted.length)}${(n >> 16n).toString(16)}:${(n & 0xffffn).toString(16)}`;
  }
  const [left = '', right] = head.split('::');
  const leftGroups = left === '' ? [] : left.split(':');
  const rightGroups = right === undefined || right === '' ? [] : right.split(':');
  const zeros = right === undefined ? 0 : 8 - leftGroups.length - rightGroups.length;
  const groups = [...leftGroups, ...Array<string>(zeros).fill('0'), ...rightGroups];
  return groups.reduce((n, g) => (n << 16n) | BigInt(`0x${g || '0'}`), 0n);
}

const isPrivateIpv4 = (value: bigint): boolean => ipv4Blocks.some((b) => inBlock(value, 32, b));

/** The IPv4 address an IPv6 address carries, when it is of a kind that carries one. */
function embeddedIpv4(value: bigint): bigint | undefined {
  const top96 = value >> 32n;
  if (top96 === 0xffffn) return value & 0xffffffffn; // ::ffff:0:0/96 IPv4-mapped
  if (top96 === 0n) return value & 0xffffffffn; // ::/96 IPv4-compatible (deprecated)
  if (top96 === 0x0064ff9b0000000000000000n) return value & 0xffffffffn; // 64:ff9b::/96 NAT64
  if (value >> 112n === 0x2002n) return (value >> 80n) & 0xffffffffn; // 2002::/16 6to4
  return undefined;
}

/** Not globally reachable, or multicast (see the table above); a host name is not an address and is never private. */
export function isPrivateAddress(address: string): boolean {
  const bare = address.replace(/^\[|\]$/g, '');
  const family = isIP(bare);
  if (family === 4) return isPrivateIpv4(v4(bare));
  if (family !== 6) return false;
  const value = ipv6Value(bare.replace(/%.*$/, ''));
  const carried = embeddedIpv4(value);
  // ::/96 stays refused whatever it carries: it holds :: and ::1 and no one uses it for a public address.
  if (carried !== undefined && value >> 32n !== 0n) return isPrivateIpv4(carried);
  return ipv6Blocks.some((b) => inBlock(value, 128, b));
}
