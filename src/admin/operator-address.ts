// The address of whoever sends an admin request: the socket's peer, or behind a proxy listed in
// `access.trustedProxies` the client that proxy reports in X-Forwarded-For (src/access/client-address.ts), so that
// the login limit counts each real client on its own (docs/security.md, "Operator and admin").
import type { FastifyRequest } from 'fastify';
import { AddressList } from '../config/address-list.js';
import { clientAddress } from '../access/client-address.js';

const lists = new WeakMap<readonly string[], AddressList>();

export function operatorAddress(req: FastifyRequest, trustedProxies: readonly string[]): string {
  let trusted = lists.get(trustedProxies);
  if (!trusted) {
    trusted = new AddressList(trustedProxies);
    lists.set(trustedProxies, trusted);
  }
  return clientAddress(req.socket.remoteAddress, req.headers['x-forwarded-for'], trusted);
}
