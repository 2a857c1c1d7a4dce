// TLS passthrough routes (docs/clients.md, "TLS"): a server name, or `*.` and a domain, whose connections are piped
// still encrypted to `to`. One validation for the config file and for routes edited at run time.
import { z } from 'zod';
import { isHostname } from './hosts.js';

export interface PassthroughRoute {
  /** Lower-case host name, or `*.domain` matching exactly one more label (as in a certificate). */
  sni: string;
  /** `host:port`, `ipv4:port` or `[ipv6]:port`. */
  to: string;
}

export interface Backend {
  host: string;
  port: number;
}

/** `*.secure.test` or `registry.secure.test`; upper case is refused so that what is written is what matches. */
export function isSniPattern(value: string): boolean {
  return isHostname(value.startsWith('*.') ? value.slice(2) : value) && value.length <= 253;
}

const ipv4 = /^(?:(?:25[0-5]|2[0-4]\d|1?\d?\d)\.){3}(?:25[0-5]|2[0-4]\d|1?\d?\d)$/;

/** The backend address, or undefined when `to` is not `host:port` with a port in 1..65535. */
export function parseBackend(to: string): Backend | undefined {
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([A-Za-z0-9.-]+)):(\d{1,5})$/.exec(to);
  if (!m) return undefined;
  const port = Number(m[3]);
  if (port < 1 || port > 65535) return undefined;
  if (m[1] !== undefined) return m[1].includes(':') ? { host: m[1], port } : undefined;
  const host = (m[2] ?? '').toLowerCase();
  return ipv4.test(host) || isHostname(host) ? { host, port } : undefined;
}

export const passthroughRouteSchema = z.strictObject({
  sni: z.string().refine(isSniPattern, 'expected a lower-case host name or *.domain'),
  to: z.string().refine((v) => parseBackend(v) !== undefined, 'expected host:port, ipv4:port or [ipv6]:port with a port from 1 to 65535'),
});

/** Problems in a whole route list: duplicates. Each as [index, message]. */
export function passthroughConflicts(routes: readonly PassthroughRoute[]): Array<[number, string]> {
  const seen = new Set<string>();
  const out: Array<[number, string]> = [];
  routes.forEach((r, i) => {
    if (seen.has(r.sni)) out.push([i, `${r.sni} is routed twice`]);
    seen.add(r.sni);
  });
  return out;
}
