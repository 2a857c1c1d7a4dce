// The client's address: the socket's peer, or, when the peer is a trusted proxy, the nearest address in
// X-Forwarded-For that is not itself a trusted proxy (the header is client-controlled beyond the first hop we
// trust, so it is read from the right).
import { isIP } from 'node:net';
import { unmapped, type AddressList } from './address-list.js';

export function clientAddress(peer: string | undefined, forwardedFor: string | string[] | undefined, trusted: AddressList): string {
  const socketAddress = unmapped(peer ?? '');
  if (!trusted.size || !trusted.has(socketAddress) || forwardedFor === undefined) return socketAddress;
  const hops = (Array.isArray(forwardedFor) ? forwardedFor.join(',') : forwardedFor)
    .split(',')
    .map((h) => unmapped(h.trim().replace(/^\[(.*)\](?::\d+)?$/, '$1')));
  for (let i = hops.length - 1; i >= 0; i--) {
    const hop = hops[i] ?? '';
    if (!isIP(hop)) return socketAddress; // a malformed hop: trust nothing beyond the proxy
    if (!trusted.has(hop)) return hop;
  }
  return hops[0] ?? socketAddress;
}
