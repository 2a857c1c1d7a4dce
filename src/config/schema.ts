// The one configuration schema: types, defaults and validation. Every key is documented in pullgate.example.yaml.
import { z } from 'zod';
import { parseDurationMs } from './duration.js';
import { parseSizeBytes } from './size.js';
import { canonicalRegistry } from '../registry/registry-names.js';
import { isRegistryHost, isHostname } from './hosts.js';

/** A number or a string read by `parse` (durations to ms, sizes to bytes), with a default and a hint on error. */
const measured = (parse: (v: string | number) => number | undefined, what: string, hint: string) => (fallback: string) =>
  z
    .union([z.string(), z.number()])
    .default(fallback)
    .transform((v, ctx) => {
      const value = parse(v);
      if (value === undefined) {
        ctx.addIssue({ code: 'custom', message: `not a ${what}: ${String(v)} (use e.g. ${hint})` });
        return z.NEVER;
      }
      return value;
    });

const duration = measured(parseDurationMs, 'duration', '"30s", "5m", "1h"');
const size = measured(parseSizeBytes, 'size', '"512MiB", "20GB"');

/** `host:port`, `:port` or a bare port; the host defaults to all interfaces. */
const listenPattern = /^(?:(?:\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+)?:)?(\d{1,5})$/;
const listenAddress = z
  .string()
  .refine((v) => Number(listenPattern.exec(v)?.[1] ?? 65536) <= 65535, 'expected host:port, :port or port');

/** Without a `listen` block: the registry on every interface, the admin on loopback only. */
export const defaultListen = { http: ':5000', admin: '127.0.0.1:5001' };

const proxyUrl = z.url({ protocol: /^https?$/, error: 'expected an http:// or https:// proxy URL' });

const auth = z
  .strictObject({
    mode: z.enum(['mirror', 'passthrough']).default('mirror'),
    username: z.string().min(1).optional(),
    password: z.string().min(1).optional(),
    passwordFile: z.string().min(1).optional(),
  })
  .refine((a) => !(a.password && a.passwordFile), { message: 'set password or passwordFile, not both' })
  .refine((a) => !((a.password || a.passwordFile) && !a.username), { message: 'a password needs a username' })
  .refine((a) => !(a.mode === 'passthrough' && a.username), {
    message: 'passthrough mode uses the client\'s own credentials; remove username/password',
  });

export const upstreamSchema = z.strictObject({
  /** Short identifier: logs, metrics, the passthrough token endpoint path. */
  name: z.string().regex(/^[a-z0-9][a-z0-9_-]{0,62}$/, 'lower-case letters, digits, - and _'),
  /** The registry name clients use (`docker.io`, `gcr.io`, `registry.corp.test:5000`): ns value and path prefix. */
  registry: z.string().refine(isRegistryHost, 'expected a registry host such as gcr.io or host:port'),
  /** Where to dial: the origin registry. */
  url: z.url({ protocol: /^https?$/, error: 'expected an http:// or https:// URL' }),
  /** Other URLs serving the same content (a regional mirror), tried in order before `url`. */
  mirrors: z.array(z.url({ protocol: /^https?$/, error: 'expected an http:// or https:// URL' })).default([]),
  /** Mirror hostnames routed to this upstream by the Host header. */
  hosts: z.array(z.string().refine(isHostname, 'expected a hostname')).default([]),
  /** The upstream served at the mirror root (daemon.json registry-mirrors). At most one. */
  default: z.boolean().default(false),
  auth: auth.prefault({}),
  /** Extra CA bundle (PEM) trusted for this upstream, on top of the system CAs. */
  ca: z.string().min(1).optional(),
  /** Turns off TLS verification for this upstream. Explicit and off by default. */
  insecureSkipVerify: z.boolean().default(false),
  /** HTTP(S) proxy for this upstream; overrides the global `proxy`. `""` forces a direct connection. */
  proxy: z.union([proxyUrl, z.literal('')]).optional(),
  /** How long a cached tag is trusted before it is revalidated. */
  tagTtl: duration('5m'),
  /** Serve only what is cached; never contact this upstream. */
  offline: z.boolean().default(false),
  /** Follow redirects to loopback, private or link-local addresses even though the upstream URL is public. */
  allowPrivateRedirects: z.boolean().default(false),
  /** Idempotent requests that meet a connection error, a timeout or a 5xx are tried again, with backoff. */
  retries: z
    .strictObject({ attempts: z.int().min(1).max(10).default(3), minDelay: duration('200ms'), maxDelay: duration('2s') })
    .refine((r) => r.minDelay <= r.maxDelay, { message: 'minDelay must not exceed maxDelay', path: ['minDelay'] })
    .prefault({}),
  /** Per URL: after `failures` consecutive failures the URL is skipped for `openFor`, then probed once. */
  circuit: z.strictObject({ failures: z.int().min(1).max(1000).default(5), openFor: duration('30s') }).prefault({}),
});

export const configSchema = z
  .strictObject({
    listen: z
      .strictObject({
        http: listenAddress.optional(),
        https: listenAddress.optional(),
        admin: listenAddress.optional(),
      })
      .default(defaultListen),
    tls: z
      .strictObject({
        /** PEM files; each certificate's SANs say which hostnames it serves (SNI). */
        certificates: z.array(z.strictObject({ cert: z.string().min(1), key: z.string().min(1) })).default([]),
      })
      .prefault({}),
    dataDir: z.string().min(1).default('./data'),
    log: z
      .strictObject({ level: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info') })
      .prefault({}),
    /** Global HTTP(S) proxy for upstream connections. */
    proxy: proxyUrl.optional(),
    /** Public base URL of the mirror, used in rewritten token realms when the request's own host is not enough. */
    publicUrl: z.url({ protocol: /^https?$/ }).optional(),
    timeouts: z
      .strictObject({
        /** TCP + TLS connect to an upstream. */
        connect: duration('15s'),
        /** Waiting for an upstream's response headers. */
        headers: duration('60s'),
        /** Inactivity on an upstream body (never a total deadline on a blob). */
        idle: duration('60s'),
        /** Client keep-alive on the mirror's listeners; above the 90 s of containers/image. */
        keepAlive: duration('120s'),
      })
      .prefault({}),
    cache: z
      .strictObject({
        /** Eviction starts when blobs and manifests take more than this. */
        maxSize: size('20GiB'),
        /** Eviction stops once the cache is this fraction of maxSize, so that it runs in batches. */
        lowWater: z.number().gt(0).lt(1).default(0.9),
        /** Images never evicted: `upstream/repository[:tag]`, `*` matches within a component. */
        pins: z.array(z.string().min(1)).default([]),
        /** A fill whose upstream sends nothing for this long fails (its followers are aborted). */
        fillIdleTimeout: duration('60s'),
      })
      .prefault({}),
    upstreams: z.array(upstreamSchema).optional(),
    admin: z
      .strictObject({
        /** A file holding the admin password (else PULLGATE_ADMIN_PASSWORD, else one generated on first start). */
        passwordFile: z.string().min(1).optional(),
        /** How long a login lasts. */
        sessionTtl: duration('12h'),
      })
      .prefault({}),
  })
  .superRefine((c, ctx) => {
    for (const issue of upstreamConflicts(c.upstreams ?? [])) {
      ctx.addIssue({ code: 'custom', path: ['upstreams', ...issue.path], message: issue.message });
    }
    (c.upstreams ?? []).forEach((u, i) => {
      if (u.mirrors.length > 0 && u.auth.mode === 'passthrough') {
        ctx.addIssue({ code: 'custom', path: ['upstreams', i, 'mirrors'], message: 'mirrors need auth mode mirror: client credentials belong to the origin only' });
      }
    });
    if (c.listen.https && c.tls.certificates.length === 0) {
      ctx.addIssue({ code: 'custom', path: ['tls', 'certificates'], message: 'listen.https needs at least one certificate' });
    }
  });

export interface UpstreamIdentity {
  name: string;
  registry: string;
  hosts: readonly string[];
  default: boolean;
}

/**
 * What makes a set of upstreams ambiguous: a name, registry or mirror hostname used twice, or two defaults. The one
 * rule for the config file and for upstreams added through the admin; paths are relative to the list.
 */
export function upstreamConflicts(ups: readonly UpstreamIdentity[]): Array<{ path: Array<string | number>; message: string }> {
  const issues: Array<{ path: Array<string | number>; message: string }> = [];
  const seen = { name: new Set<string>(), registry: new Set<string>(), host: new Set<string>() };
  ups.forEach((u, i) => {
    if (seen.name.has(u.name)) issues.push({ path: [i, 'name'], message: `duplicate name ${u.name}` });
    seen.name.add(u.name);
    const registry = canonicalRegistry(u.registry);
    if (seen.registry.has(registry)) issues.push({ path: [i, 'registry'], message: `duplicate registry ${u.registry}` });
    seen.registry.add(registry);
    u.hosts.forEach((h, j) => {
      if (seen.host.has(h)) issues.push({ path: [i, 'hosts', j], message: `host ${h} is mapped twice` });
      seen.host.add(h);
    });
  });
  if (ups.filter((u) => u.default).length > 1) issues.push({ path: [], message: 'at most one upstream may be the default' });
  return issues;
}

export type ConfigInput = z.input<typeof configSchema>;
export type ParsedConfig = z.output<typeof configSchema>;
export type UpstreamInput = z.input<typeof upstreamSchema>;
