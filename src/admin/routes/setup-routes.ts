// Client setup snippets for the live upstreams, for the mirror address clients use: the one asked for, else the
// config's publicUrl, else a name the mirror's TLS certificates cover, else this machine's host name, else the
// listener's own address. A loopback address (which no other machine can use) is said in words.
import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { isIP } from 'node:net';
import type { AdminContext } from '../admin-context.js';
import { route, type AnyApiRoute } from '../api-kit.js';
import { setupQuery, setupView } from '../api-schemas.js';
import { setupSnippets } from '../setup-snippets.js';

/** Where the CA goes on a Debian or Ubuntu client, for `update-ca-certificates` (pullgate cert selfsigned). */
export const defaultClientCaFile = '/usr/local/share/ca-certificates/pullgate-ca.crt';

export function setupRoutes(ctx: AdminContext): AnyApiRoute[] {
  return [
    route({
      method: 'GET',
      url: '/api/setup',
      summary: 'Client configuration snippets (daemon.json, hosts.toml, registries.conf, k3s, kind, image names, CA trust)',
      tag: 'setup',
      query: setupQuery,
      response: setupView,
      handler({ query }) {
        const sources = ctx.sources.list();
        const mapped = new Set(sources.flatMap((s) => s.config.hosts));
        // A name routed to one upstream by Host is not the mirror's root.
        const candidates = certificateNames(ctx).filter((n) => !mapped.has(n) && !n.startsWith('*.'));
        const chosen = chooseMirror(ctx, query.mirror, candidates);
        const mirror = new URL(chosen.address);
        const upstreams = sources.map((s) => ({
          name: s.config.name,
          registry: s.config.registry,
          hosts: s.config.hosts,
          default: s.config.default,
          enabled: s.enabled,
        }));
        // A private CA (certificate files) needs trusting on every client; an ACME certificate does not.
        const privateCa = mirror.protocol === 'https:' && !ctx.config.tls.acme;
        const caFile = query.caFile ?? (privateCa ? defaultClientCaFile : undefined);
        return {
          mirror: mirror.href.replace(/\/$/, ''),
          mirrorFrom: chosen.from,
          candidates,
          warnings: warnings(ctx, mirror),
          snippets: setupSnippets({ mirror, upstreams, ...(caFile ? { caFile } : {}) }),
        };
      },
    }),
  ];
}

type From = 'query' | 'publicUrl' | 'certificate' | 'hostname' | 'listener';

function chooseMirror(ctx: AdminContext, asked: string | undefined, names: string[]): { address: string; from: From } {
  if (asked) return { address: asked, from: 'query' };
  if (ctx.config.publicUrl) return { address: ctx.config.publicUrl, from: 'publicUrl' };
  const bound = ctx.registryAddresses();
  const listener = new URL(bound.https ?? bound.http ?? 'http://localhost:5000');
  const withHost = (host: string): string => {
    const u = new URL(listener.href);
    u.hostname = host;
    return u.href;
  };
  if (bound.https && names[0]) return { address: withHost(names[0]), from: 'certificate' };
  const machine = hostname();
  if (machine && machine !== 'localhost' && !isIP(machine)) return { address: withHost(machine), from: 'hostname' };
  return { address: listener.href, from: 'listener' };
}

/** The DNS names of the configured certificates, in order (unreadable files are skipped: the listener says why). */
function certificateNames(ctx: AdminContext): string[] {
  const names: string[] = [];
  for (const c of ctx.config.tls.certificates) {
    try {
      const san = new X509Certificate(readFileSync(c.cert)).subjectAltName ?? '';
      for (const part of san.split(', ')) if (part.startsWith('DNS:')) names.push(part.slice(4));
    } catch {
      continue;
    }
  }
  return [...new Set(names)];
}

const isLoopback = (host: string): boolean => {
  const h = host.replace(/^\[|\]$/g, '');
  return h === 'localhost' || h.endsWith('.localhost') || h === '::1' || /^127\./.test(h);
};

function warnings(ctx: AdminContext, mirror: URL): string[] {
  const out: string[] = [];
  if (isLoopback(mirror.hostname)) {
    out.push(`${mirror.hostname} is a loopback address: only this machine can reach the mirror by it. Use a host name or address that the clients resolve to this machine.`);
  }
  const bound = ctx.registryAddresses();
  const listener = mirror.protocol === 'https:' ? bound.https : bound.http;
  if (listener && isLoopback(new URL(listener).hostname) && !isLoopback(mirror.hostname)) {
    out.push(`The ${mirror.protocol === 'https:' ? 'HTTPS' : 'HTTP'} listener binds ${new URL(listener).host}, a loopback address: other machines cannot connect until listen.${mirror.protocol === 'https:' ? 'https' : 'http'} binds an outside address.`);
  }
  return out;
}


