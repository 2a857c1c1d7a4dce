// The names the mirror is known by, and the origin its token realms name (docs/security.md, "Client and mirror").
// A realm is where clients send credentials, so it never names a host only because a request said so: a request
// with `Host: evil.example` gets a realm on a name from the configuration, not on evil.example.
import { isIP } from 'node:net';
import type { CertificateStore } from './certificates.js';
import { requestAuthority, type AnyRequest } from './request-authority.js';

export interface MirrorNamesOptions {
  /** When set, every realm names it. */
  publicUrl?: string | undefined;
  /** The hostnames mapped to upstreams now, in configuration order (upstreams change while running). */
  upstreamHosts: () => readonly string[];
  /** The names the mirror requests ACME certificates for. */
  acmeHosts?: readonly string[] | undefined;
  /** The HTTPS listener's certificates: the names on them (wildcards included). */
  certificates?: CertificateStore | undefined;
}

export class MirrorNames {
  constructor(private readonly o: MirrorNamesOptions) {}

  /**
   * Whether `host` (lower-cased, from a validated authority) names this mirror: publicUrl's host, a hostname
   * mapped to an upstream, an ACME name, a name on a certificate, or the address the connection itself reached
   * (`localhost` when that address is loopback).
   */
  knows(host: string, localAddress: string | undefined): boolean {
    if (this.o.publicUrl && new URL(this.o.publicUrl).hostname === host) return true;
    if (this.o.upstreamHosts().includes(host) || this.o.acmeHosts?.includes(host)) return true;
    if (!host.startsWith('[') && this.o.certificates?.serves(host)) return true;
    const local = unmapped(localAddress);
    if (local === undefined) return false;
    if (host === 'localhost') return isLoopback(local);
    return host === (isIP(local) === 6 ? `[${local}]` : local);
  }

  /**
   * The origin (`scheme://host[:port]`) of the realms in challenges answered to `req`: publicUrl when set; else the
   * request's own authority when it names the mirror; else the first configured name (ACME names, then hostnames
   * mapped to upstreams, then DNS names on the certificates); else the address the connection reached.
   */
  realmOrigin(req: AnyRequest, scheme: 'http' | 'https'): string {
    if (this.o.publicUrl) return this.o.publicUrl.replace(/\/+$/, '');
    const { authority } = requestAuthority(req);
    const localAddress = req.socket.localAddress;
    if (authority && this.knows(authority.host, localAddress)) return `${scheme}://${authority.value}`;
    const local = unmapped(localAddress);
    const name = this.firstName() ?? (local === undefined ? 'localhost' : isIP(local) === 6 ? `[${local}]` : local);
    const port = req.socket.localPort;
    const defaultPort = scheme === 'https' ? 443 : 80;
    return `${scheme}://${name}${port && port !== defaultPort ? `:${port}` : ''}`;
  }

  private firstName(): string | undefined {
    return this.o.acmeHosts?.[0] ?? this.o.upstreamHosts()[0] ?? this.o.certificates?.dnsNames().find((n) => !n.startsWith('*.'));
  }
}

function unmapped(address: string | undefined): string | undefined {
  if (!address) return undefined;
  const a = address.toLowerCase();
  return a.startsWith('::ffff:') && isIP(a.slice(7)) === 4 ? a.slice(7) : a;
}

function isLoopback(address: string): boolean {
  return address === '::1' || /^127\./.test(address);
}
