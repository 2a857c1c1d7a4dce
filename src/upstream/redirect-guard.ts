// Redirects, token realms and token relays to private or loopback addresses (docs/security.md, "Mirror and
// upstream"; the address table is special-addresses.ts): an upstream on the public internet has no business
// sending the mirror to 127.0.0.1, 10.x or a link-local metadata address, where it would reach services that
// trust the mirror's network position. Such a redirect is refused unless the upstream sets
// `allowPrivateRedirects`, or the upstream is itself private (a registry inside the network redirecting to its
// own storage is ordinary). The check runs on the resolved address, inside the dialer's DNS lookup, so a name
// that resolves to a private address cannot slip through between a check and the connect.
import { lookup as dnsLookup, type LookupAddress, type LookupAllOptions } from 'node:dns';
import { lookup as dnsLookupAsync } from 'node:dns/promises';
import { isIP } from 'node:net';
import { isPrivateAddress } from './special-addresses.js';

export { isPrivateAddress };

export class PrivateRedirectError extends Error {
  readonly code = 'PULLGATE_PRIVATE_REDIRECT';
  constructor(
    readonly host: string,
    readonly address: string,
  ) {
    super(`redirect to ${host} refused: it resolves to the private address ${address}`);
  }
}

/**
 * A hop from an https upstream URL to a plain-http target (docs/security.md, "Mirror and upstream" (3)): a manifest
 * fetched by tag is verified by TLS only, so a downgrade would let anyone on the path substitute it. Names origins
 * only: a redirect's path and query may carry a signed URL's secret.
 */
export class PlainHttpRedirectError extends Error {
  readonly code = 'PULLGATE_PLAIN_HTTP_REDIRECT';
  constructor(
    readonly from: string,
    readonly to: string,
  ) {
    super(`redirect from ${from} to the plain-http ${to} refused: an https upstream is never followed to plain http`);
  }
}

/** Refuses a plain-http target of a hop from an https upstream URL; an upstream configured as http:// is plain already. */
export function checkRedirectScheme(upstreamUrl: URL, target: URL): void {
  if (upstreamUrl.protocol === 'https:' && target.protocol !== 'https:') throw new PlainHttpRedirectError(upstreamUrl.origin, target.origin);
}

/** Refuses a literal private address in a redirect target before anything is dialled. */
export function checkRedirectHost(hostname: string): void {
  const bare = hostname.replace(/^\[|\]$/g, '');
  if (isIP(bare) && isPrivateAddress(bare)) throw new PrivateRedirectError(hostname, bare);
}

type LookupCallback = (err: NodeJS.ErrnoException | null, address: string | LookupAddress[], family?: number) => void;

/** A `lookup` for net/tls.connect that fails when any address of the name is private. */
export function privateRefusingLookup(hostname: string, options: { all?: boolean | undefined; family?: number | string | undefined }, callback: LookupCallback): void {
  const all: LookupAllOptions = { all: true, ...(typeof options.family === 'number' && options.family ? { family: options.family } : {}) };
  dnsLookup(hostname, all, (err, addresses) => {
    if (err) return callback(err, []);
    const bad = addresses.find((a) => isPrivateAddress(a.address));
    if (bad) return callback(new PrivateRedirectError(hostname, bad.address) as NodeJS.ErrnoException, []);
    const first = addresses[0];
    if (options.all) return callback(null, addresses);
    if (!first) return callback(Object.assign(new Error(`no address for ${hostname}`), { code: 'ENOTFOUND' }), []);
    callback(null, first.address, first.family);
  });
}

/**
 * Resolves a redirect target before it is dialled through a proxy (where the proxy, not the mirror, resolves the
 * name): refused when any address is private. An unresolvable name is left to the proxy.
 */
export async function checkResolvedRedirectHost(hostname: string): Promise<void> {
  checkRedirectHost(hostname);
  const addresses = await dnsLookupAsync(hostname, { all: true }).catch(() => []);
  const bad = addresses.find((a) => isPrivateAddress(a.address));
  if (bad) throw new PrivateRedirectError(hostname, bad.address);
}

/**
 * Whether an upstream URL's host is private: a private literal, or a name whose every address is private.
 * A name that does not resolve here (reached through a proxy) counts as public, so the guard stays on.
 */
export async function isPrivateHost(hostname: string): Promise<boolean> {
  const bare = hostname.replace(/^\[|\]$/g, '');
  if (isIP(bare)) return isPrivateAddress(bare);
  const addresses = await dnsLookupAsync(bare, { all: true }).catch(() => []);
  return addresses.length > 0 && addresses.every((a) => isPrivateAddress(a.address));
}
