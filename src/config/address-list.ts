// Address lists (allow, deny, trusted proxies): IPv4 and IPv6 addresses and CIDR blocks, on node's BlockList.
// An IPv4-mapped IPv6 address (`::ffff:10.1.2.3`, how a dual-stack socket reports IPv4 clients) is read as IPv4.
import { BlockList, isIP } from 'node:net';

export class AddressListError extends Error {
  readonly code = 'ADDRESS_INVALID';
}

/** `10.0.0.0/8`, `2001:db8::/32`, or a single address. Undefined when it is neither. */
export function parseCidr(value: string): { address: string; prefix: number; family: 'ipv4' | 'ipv6' } | undefined {
  const [raw = '', bits, extra] = value.trim().split('/');
  if (extra !== undefined) return undefined;
  const address = unmapped(raw);
  const version = isIP(address);
  if (!version) return undefined;
  const max = version === 4 ? 32 : 128;
  const prefix = bits === undefined ? max : /^\d{1,3}$/.test(bits) ? Number(bits) : NaN;
  if (!Number.isInteger(prefix) || prefix < 0 || prefix > max) return undefined;
  return { address, prefix, family: version === 4 ? 'ipv4' : 'ipv6' };
}

export const isCidr = (value: string): boolean => parseCidr(value) !== undefined;

/** `::ffff:1.2.3.4` -> `1.2.3.4`; anything else unchanged. */
export function unmapped(address: string): string {
  const m = /^::ffff:(\d{1,3}(?:\.\d{1,3}){3})$/i.exec(address);
  return m?.[1] ?? address;
}

export class AddressList {
  private readonly list = new BlockList();
  readonly size: number;

  constructor(readonly entries: readonly string[]) {
    for (const entry of entries) {
      const c = parseCidr(entry);
      if (!c) throw new AddressListError(`not an address or CIDR block: ${entry}`);
      this.list.addSubnet(c.address, c.prefix, c.family);
    }
    this.size = entries.length;
  }

  has(address: string): boolean {
    const a = unmapped(address);
    const version = isIP(a);
    if (!version) return false;
    return this.list.check(a, version === 4 ? 'ipv4' : 'ipv6');
  }
}
