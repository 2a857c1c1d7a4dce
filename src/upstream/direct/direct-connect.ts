// How a direct read dials one target (UpstreamEndpoint.connectFor): the upstream's TLS trust and, for a redirect
// from a public upstream, the private-address guard's lookup (docs/security.md, "Mirror and upstream").
import type { LookupFunction } from 'node:net';
import type { SecureContext } from 'node:tls';

export interface DirectConnect {
  /** The system roots plus the upstream's bundle; absent: Node's default roots. */
  ca?: string[];
  /** The same trust built once (dispatcher.ts upstreamTls); when set, `ca` is not read. */
  secureContext?: SecureContext;
  rejectUnauthorized: boolean;
  lookup?: LookupFunction;
}
