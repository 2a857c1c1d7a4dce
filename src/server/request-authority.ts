// The authority a request was sent to, read and validated in this one place (docs/security.md, "Client and
// mirror"): HTTP/2's `:authority` (RFC 9113 §8.3.1), else the `Host` header (RFC 9112 §3.2), with an HTTP/1.1
// absolute-form target's own authority taking precedence over `Host` (RFC 9112 §3.2.2). Routing, realms, access
// rules and logs ask here; no other file reads those fields (test/unit/server/authority-readers.test.ts).
import type { IncomingMessage } from 'node:http';
import type { Http2ServerRequest } from 'node:http2';
import { isIPv4, isIPv6 } from 'node:net';

export interface Authority {
  /** Lower-cased, without a trailing dot; an IPv6 address keeps its brackets. */
  readonly host: string;
  readonly port?: number;
  /** `host[:port]`, as written into a URL. */
  readonly value: string;
}

export interface RequestAuthority {
  /** Undefined when the request named none (HTTP/1.0 without Host, HTTP/2 without `:authority`). */
  readonly authority: Authority | undefined;
  /** `1.0`, `1.1` or `2.0`. */
  readonly httpVersion: string;
  /** Why the request's authority is unusable; the listener then refuses the request with a 400. */
  readonly malformed?: string;
}

export type AnyRequest = IncomingMessage | Http2ServerRequest;

const shape = /^(?:\[([0-9a-f:.]+)\]|([a-z0-9_.-]+))(?::(\d{1,5}))?$/i;
const label = /^[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?$/;

/** `host[:port]` (a DNS name, an IPv4 address or a bracketed IPv6 address); anything else is undefined. */
export function parseAuthority(value: string): Authority | undefined {
  if (value.length > 300) return undefined;
  const m = shape.exec(value);
  if (!m) return undefined;
  const [, ipv6, name, portText] = m;
  let host: string;
  if (ipv6 !== undefined) {
    if (!isIPv6(ipv6)) return undefined;
    host = `[${ipv6.toLowerCase()}]`;
  } else {
    host = (name ?? '').toLowerCase().replace(/\.$/, '');
    if (host.length === 0 || host.length > 253) return undefined;
    if (/^[0-9.]+$/.test(host) ? !isIPv4(host) : !host.split('.').every((l) => label.test(l))) return undefined;
  }
  if (portText === undefined) return { host, value: host };
  const port = Number(portText);
  if (port < 1 || port > 65535) return undefined;
  return { host, port, value: `${host}:${port}` };
}

const known = new WeakMap<object, RequestAuthority>();

/** The request's authority, parsed once per request. */
export function requestAuthority(req: AnyRequest): RequestAuthority {
  let found = known.get(req);
  if (!found) {
    found = read(req);
    known.set(req, found);
  }
  return found;
}

function read(req: AnyRequest): RequestAuthority {
  const httpVersion = req.httpVersion;
  const headers = req.headers as Record<string, string | string[] | undefined>;
  const host = headers.host;
  if (httpVersion === '2.0') {
    const pseudo = headers[':authority'];
    const value = typeof pseudo === 'string' ? pseudo : typeof host === 'string' ? host : undefined;
    if (value === undefined || value === '') return { authority: undefined, httpVersion };
    const authority = parseAuthority(value);
    if (!authority) return { authority, httpVersion, malformed: 'malformed :authority' };
    // RFC 9113 §8.3.1: a Host naming another entity than :authority makes the request malformed.
    const scheme = typeof headers[':scheme'] === 'string' ? headers[':scheme'] : undefined;
    if (typeof pseudo === 'string' && typeof host === 'string' && !sameEntity(authority, parseAuthority(host), scheme)) {
      return { authority: undefined, httpVersion, malformed: 'Host and :authority disagree' };
    }
    return { authority, httpVersion };
  }
  // RFC 9112 §3.2: more than one Host is a 400 (node keeps only the first in `headers`).
  const hosts = 'headersDistinct' in req ? req.headersDistinct.host : undefined;
  if (hosts !== undefined && hosts.length > 1) return { authority: undefined, httpVersion, malformed: 'more than one Host header' };
  const absolute = absoluteFormAuthority(req.url);
  const value = absolute ?? host;
  if (typeof value !== 'string') {
    return httpVersion === '1.0' ? { authority: undefined, httpVersion } : { authority: undefined, httpVersion, malformed: 'an HTTP/1.1 request needs a Host header' };
  }
  // RFC 9112 §3.2: an empty Host is how a client says the target has no authority.
  if (value === '' && absolute === undefined) return { authority: undefined, httpVersion };
  const authority = parseAuthority(value);
  return authority ? { authority, httpVersion } : { authority, httpVersion, malformed: 'malformed Host header' };
}

const defaultPorts: Record<string, number> = { http: 80, https: 443 };

/**
 * Whether two authorities name the same entity: the same host and port, a port left out being the scheme's default
 * (RFC 9110 §4.2.3), so `name` and `name:443` are one over https. Without a known scheme, ports match as written.
 */
function sameEntity(a: Authority, b: Authority | undefined, scheme: string | undefined): boolean {
  const fallback = scheme === undefined ? undefined : defaultPorts[scheme.toLowerCase()];
  return b !== undefined && a.host === b.host && (a.port ?? fallback) === (b.port ?? fallback);
}

/** `GET http://host:port/path HTTP/1.1`: the target's authority, or undefined for the usual origin form. */
function absoluteFormAuthority(url: string | undefined): string | undefined {
  if (url === undefined || url.startsWith('/') || url === '*') return undefined;
  const m = /^https?:\/\/([^/?#]*)/i.exec(url);
  return m ? (m[1] ?? '') : '';
}
