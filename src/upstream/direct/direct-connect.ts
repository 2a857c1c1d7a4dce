// How a direct read dials one target (UpstreamEndpoint.connectFor): the upstream's TLS trust and, for a redirect
// from a public upstream, the private-address guard's lookup (docs/security.md, "Mirror and upstream").
import type { LookupFunction } from 'node:net';

export interface DirectConnect {
  /** The system roots plus the upstream's bundle; absent: Node's default roots. */
  ca?: string[];
  rejectUnauthorized: boolean;
  lookup?: LookupFunction;
}
