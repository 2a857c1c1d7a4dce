// The host names the admin listener answers to (docs/security.md, "Operator and admin"). A browser page on an
// attacker's site can make its own name resolve to the admin's address (DNS rebinding); its requests then carry
// the attacker's name in Host, so a name the operator did not give is refused. Accepted: any IP address literal (no
// name to rebind), `localhost` and `*.localhost` (loopback by RFC 6761; browsers never ask DNS for them), the host
// of `listen.admin` when it is a name, the host of `publicUrl`, and the names in `admin.hosts`. Ports are not
// compared: a reverse proxy may publish the admin on another port.
import { isIP } from 'node:net';
import { hostWithoutPort } from '../config/hosts.js';

export interface AdminHostSources {
  /** `listen.admin`, e.g. `127.0.0.1:5001` or `admin.internal:5001`. */
  listen?: string;
  publicUrl?: string;
  /** `admin.hosts`: further names the operator reaches the admin by (a reverse proxy's, a management DNS name). */
  hosts?: readonly string[];
}

export class AdminHosts {
  private readonly names: ReadonlySet<string>;

  constructor(sources: AdminHostSources) {
    const names = new Set<string>(['localhost']);
    const listenHost = sources.listen ? hostWithoutPort(sources.listen.includes(':') ? sources.listen : `:${sources.listen}`) : '';
    if (listenHost && !isIP(listenHost.replace(/^\[|\]$/g, ''))) names.add(canonical(listenHost));
    if (sources.publicUrl) names.add(canonical(new URL(sources.publicUrl).hostname));
    for (const h of sources.hosts ?? []) names.add(canonical(h));
    names.delete('');
    this.names = names;
  }

  /** The names besides address literals and `*.localhost`, for the refusal's message. */
  get configured(): string[] {
    return [...this.names];
  }

  /** Whether a request whose Host header is `host` may be answered. */
  allows(host: string | undefined): boolean {
    if (!host || /[\s/\\@?#]/.test(host)) return false;
    const name = canonical(hostWithoutPort(host));
    if (!name) return false;
    if (isIP(name.replace(/^\[|\]$/g, '')) && (name.startsWith('[') || !name.includes(':'))) return true;
    if (name === 'localhost' || name.endsWith('.localhost')) return true;
    return this.names.has(name);
  }
}

/** Lower case, without the one trailing dot of a fully qualified name. */
function canonical(name: string): string {
  return name.trim().toLowerCase().replace(/\.$/, '');
}
