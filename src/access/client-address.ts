// The client's address: the socket's peer, or, when the peer is a trusted proxy, the nearest address in
// X-Forwarded-For that is not itself a trusted proxy (the header is client-controlled beyond the first hop we
// trust, so it is read from the right).
import { isIP } from 'node:net';
import { unmapped, type AddressList } from '../config/address-list.js';

export function clientAddress(peer: string | undefined, forwardedFor: string | string[] | undefined, trusted: AddressList): string {
  const socketAddress = unmapped(peer ?? '');
  if (!trusted.size || !trusted.has(socketAddress) || forwardedFor === undefined) return socketAddress;
  const hops = (Array.isArray(forwardedFor) ? forwardedFor.join(',') : forwardedFor)
    .split(',')
    .map((h) => unmapped(hopAddress(h.trim())));
  for (let i = hops.length - 1; i >= 0; i--) {
    const hop = hops[i] ?? '';
    if (!isIP(hop)) return socketAddress; // a malformed hop: trust nothing beyond the proxy
    if (!trusted.has(hop)) return hop;
  }
  return hops[0] ?? socketAddress;
}

/**
 * A hop's address without the port some proxies append (`203.0.113.7:51234`, `[2001:db8::1]:443`); an unbracketed
 * IPv6 address has colons of its own and is taken whole. A port that is not one leaves the hop malformed.
 */
function hopAddress(hop: string): string {
  const bracketed = /^\[([^\]]*)\](?::(\d{1,5}))?$/.exec(hop);
  if (bracketed) return bracketed[2] === undefined || Number(bracketed[2]) <= 65535 ? bracketed[1]! : hop;
  const ipv4 = /^(\d{1,3}(?:\.\d{1,3}){3}):(\d{1,5})$/.exec(hop);
  if (ipv4) return Number(ipv4[2]) <= 65535 ? ipv4[1]! : hop;
  return hop;
}
