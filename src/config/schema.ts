// The one configuration schema: types, defaults and validation. Every key is documented in pullgate.example.yaml.
import { z } from 'zod';
import { formatDuration, parseDurationMs } from './duration.js';
import { parseSizeBytes } from './size.js';
import { canonicalRegistry } from '../registry/registry-names.js';
import { isRegistryHost, isHostname } from './hosts.js';
import { isCidr } from './address-list.js';
import { isPolicyRule } from './repository-policy.js';
import { signaturesSchema } from './signatures.js';
import { passthroughConflicts, passthroughRouteSchema } from './passthrough.js';
import { storageSchema } from './storage.js';
import { clusterSchema } from './cluster.js';
import { workersSchema } from './workers.js';
import { quotaSchema, watchEntrySchema } from './watch.js';

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

/**
 * A duration up to `max`: every duration ends up in a timer or a comparison, and Node's timers take at most
 * 2^31-1 ms (about 24.8 days); a longer one fires at once (a 25d fillIdleTimeout would fail every fill as stalled).
 */
const duration = (fallback: string, max: string) => {
  const maxMs = parseDurationMs(max)!;
  return measured(parseDurationMs, 'duration', '"30s", "5m", "1h"')(fallback).refine((ms) => ms <= maxMs, {
    error: (issue) => `at most ${max}, got ${String(issue.input === undefined ? '' : formatDuration(issue.input as number))}`,
  });
};
const size = measured(parseSizeBytes, 'size', '"512MiB", "20GB"');

/** `host:port`, `:port` or a bare port; the host defaults to all interfaces. */
const listenPattern = /^(?:(?:\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+)?:)?(\d{1,5})$/;
const listenAddress = z
  .string()
  .refine((v) => Number(listenPattern.exec(v)?.[1] ?? 65536) <= 65535, 'expected host:port, :port or port');

/** Without a `listen` block: the registry on every interface, the admin on loopback only. */
export const defaultListen = { http: ':5000', admin: '127.0.0.1:5001' };

const cidr = z.string().refine(isCidr, 'expected an address or a CIDR block such as 10.0.0.0/8 or 2001:db8::/32');
const policyRule = z.string().refine(isPolicyRule, 'expected repository[:tag] with * wildcards, e.g. library/* or team/app:v*');

/** Who may pull from an upstream; per upstream, each key replaces the global one. */
const accessRules = {
  /** Client addresses allowed (empty: everyone not denied). */
  allow: z.array(cidr),
  /** Client addresses refused; checked before allow. */
  deny: z.array(cidr),
  /** `required`: clients log in with Pullgate's own users (Basic, or a token from the mirror's /auth/token). */
  login: z.enum(['off', 'required']),
};
/** Let's Encrypt's production directory: the ACME CA used unless `tls.acme.directoryUrl` names another. */
export const letsEncryptDirectory = 'https://acme-v02.api.letsencrypt.org/directory';

const acme = z
  .strictObject({
    /** Contact for the CA's expiry and policy mail. */
    email: z.email({ error: 'expected an email address' }),
    directoryUrl: z.url({ protocol: /^https$/, error: 'expected the https:// URL of an ACME directory' }).default(letsEncryptDirectory),
    /** Hostnames to obtain certificates for; default: every hostname mapped in upstreams[].hosts. */
    hosts: z.array(z.string().refine(isHostname, 'expected a hostname')).min(1).optional(),
    /** http-01: the CA fetches http://<host>/.well-known/...; tls-alpn-01: it handshakes with <host>:443. */
    challenge: z.enum(['http-01', 'tls-alpn-01'], { error: 'expected http-01 or tls-alpn-01' }).default('http-01'),
    /** Where the HTTP-01 answers are served; the CA connects to port 80 of each host. */
    httpListen: listenAddress.default(':80'),
    /** Extra CA bundle (PEM) trusted for the ACME directory's own TLS (a private or test CA). */
    caBundle: z.string().min(1).optional(),
    termsAgreed: z.literal(true, { error: "set termsAgreed: true to agree to the ACME CA's terms of service" }),
  })
  .optional();

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
  tagTtl: duration('5m', '7d'),
  /** Serve only what is cached; never contact this upstream. */
  offline: z.boolean().default(false),
  /** Who may pull from this upstream: overrides the global `access` key by key. */
  access: z
    .strictObject({ allow: accessRules.allow.optional(), deny: accessRules.deny.optional(), login: accessRules.login.optional() })
    .optional(),
  /** What may be pulled: repository globs (names as on the upstream), deny first; with allow rules, only those. */
  policy: z.strictObject({ allow: z.array(policyRule).default([]), deny: z.array(policyRule).default([]) }).optional(),
  /** Images of these repositories must carry valid signatures (docs/signatures.md). */
  signatures: signaturesSchema.optional(),
  /** Images kept fresh on a schedule (docs/watch.md). */
  watch: z.array(watchEntrySchema).max(200).default([]),
  /** How much of the upstream's pull quota background work may spend (docs/watch.md). */
  quota: quotaSchema.prefault({}),
  /** Receives a JSON event (POST) when a watched tag of this upstream moves (docs/watch.md). */
  watchWebhook: z.url({ protocol: /^https?$/ }).max(2000).optional(),
  /** Follow redirects to loopback, private or link-local addresses even though the upstream URL is public. */
  allowPrivateRedirects: z.boolean().default(false),
  /**
   * Blob fills read the upstream's answer straight from the socket (docs/operating.md, "Direct reads of blob
   * bodies"); false: through the same HTTP client as every other request.
   */
  directReads: z.boolean().default(true),
  /** Idempotent requests that meet a connection error, a timeout or a 5xx are tried again, with backoff. */
  retries: z
    .strictObject({ attempts: z.int().min(1).max(10).default(3), minDelay: duration('200ms', '5m'), maxDelay: duration('2s', '5m') })
    .refine((r) => r.minDelay <= r.maxDelay, { message: 'minDelay must not exceed maxDelay', path: ['minDelay'] })
    .prefault({}),
  /** Per URL: after `failures` consecutive failures the URL is skipped for `openFor`, then probed once. */
  circuit: z.strictObject({ failures: z.int().min(1).max(1000).default(5), openFor: duration('30s', '1h') }).prefault({}),
  /** Segmented fills (docs/segmented-fills.md): a cold blob of at least `threshold` is fetched as concurrent Range requests. */
  segments: z
    .strictObject({
      /** Concurrent Range requests per fill, its own GET included; 1 is one stream (docs/segmented-fills.md). */
      connections: z.int().min(1).max(32).default(1),
      /** Segment connections this upstream's fills may hold at once, all fills together. */
      maxConnections: z.int().min(1).max(256).default(16),
      size: size('8MiB'),
      threshold: size('32MiB'),
      /** Tries per segment after a broken or stalled connection, with backoff, before the fill fails. */
      resumes: z.int().min(0).max(100).default(5),
      /** A segment connection with no byte for this long is dropped and resumed. */
      stallTimeout: duration('15s', '1h'),
    })
    .refine((s) => s.size >= 64 * 1024, { message: 'size must be at least 64KiB', path: ['size'] })
    .prefault({}),
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
        /** Server names whose TLS connections are piped, still encrypted, to a backend (docs/clients.md, "TLS"). */
        passthrough: z.array(passthroughRouteSchema).default([]),
        /** A name no certificate or passthrough route serves, or no SNI: the first certificate, or a TLS alert. */
        unknownSni: z.enum(['default', 'refuse']).default('default'),
        /** How long a new connection may take to send its ClientHello. */
        helloTimeout: duration('10s', '5m'),
        /** Certificates obtained and renewed from an ACME CA (src/acme/). */
        acme,
      })
      .prefault({}),
    dataDir: z.string().min(1).default('./data'),
    log: z
      .strictObject({
        level: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
        /** `pretty`: lines for a person; `json`: one JSON object per line. Unset: pretty when stdout is a terminal. */
        format: z.enum(['pretty', 'json']).optional(),
      })
      .prefault({}),
    /** Global HTTP(S) proxy for upstream connections. */
    proxy: proxyUrl.optional(),
    /** Public base URL of the mirror, used in rewritten token realms when the request's own host is not enough. */
    publicUrl: z.url({ protocol: /^https?$/ }).optional(),
    timeouts: z
      .strictObject({
        /** TCP + TLS connect to an upstream. */
        connect: duration('15s', '10m'),
        /** Waiting for an upstream's response headers. */
        headers: duration('60s', '1h'),
        /** Inactivity on an upstream body (never a total deadline on a blob). */
        idle: duration('60s', '1h'),
        /** Client keep-alive on the mirror's listeners; above the 90 s of containers/image. */
        keepAlive: duration('120s', '1h'),
      })
      .prefault({}),
    cache: z
      .strictObject({
        /** Eviction starts when blobs and manifests take more than this. */
        maxSize: size('20GiB'),
        /** Eviction stops once the cache is this fraction of maxSize, so that it runs in batches. */
        lowWater: z.number().gt(0).lt(1).default(0.9),
        /** Images never evicted: `upstream/repository[:tag]`, `*` matching any run of characters, `/` included. */
        pins: z.array(z.string().min(1)).default([]),
        /** A fill whose upstream sends nothing for this long fails (its followers are aborted). */
        fillIdleTimeout: duration('60s', '1h'),
        /** Where committed blobs live: `disk` (under dataDir) or an S3-compatible bucket (src/config/storage.ts). */
        storage: storageSchema,
      })
      .prefault({}),
    /** On SIGTERM, how long responses in progress (blob transfers) may take to finish before they are cut. */
    shutdownGrace: duration('30s', '1h'),
    /** Several replicas sharing one bucket: fills claimed and streamed between them (src/config/cluster.ts). */
    cluster: clusterSchema.optional(),
    /** Processes serving the data directory on this machine: a number, or `auto` for one per core (docs/workers.md). */
    workers: workersSchema,
    upstreams: z.array(upstreamSchema).optional(),
    access: z
      .strictObject({
        allow: accessRules.allow.default([]),
        deny: accessRules.deny.default([]),
        login: accessRules.login.default('off'),
        /** Proxies whose X-Forwarded-For is believed (the client address is read from it). */
        trustedProxies: z.array(cidr).default([]),
        /** Users for `login: required`, besides those added with `pullgate user add`. */
        users: z
          .array(z.strictObject({ username: z.string().regex(/^[A-Za-z0-9._@-]{1,64}$/, 'letters, digits and . _ @ -'), passwordHash: z.string().startsWith('scrypt$', 'expected a hash from `pullgate user hash`') }))
          .default([]),
        /** Per client (user, else address): requests per second with a burst, and blob transfers at once. */
        limits: z
          .strictObject({
            requestsPerSecond: z.number().positive().optional(),
            burst: z.number().int().positive().optional(),
            concurrentTransfers: z.number().int().positive().optional(),
          })
          .prefault({}),
        /** A client connection with no traffic either way for this long is closed (slow or stalled readers). */
        clientIdleTimeout: duration('5m', '1d'),
      })
      .prefault({}),
    admin: z
      .strictObject({
        /** A file holding the admin password (else PULLGATE_ADMIN_PASSWORD, else one generated on first start). */
        passwordFile: z.string().min(1).optional(),
        /** How long a login lasts. */
        sessionTtl: duration('12h', '14d'),
        /**
         * Host names the admin answers to besides IP addresses, localhost, the listen.admin host and the publicUrl
         * host (a reverse proxy's name, a management DNS name). Any other Host is refused (DNS rebinding).
         */
        hosts: z.array(z.string().refine((h) => isHostname(h.toLowerCase()), 'expected a host name such as admin.example.com')).default([]),
      })
      .prefault({}),
  })
  .superRefine((c, ctx) => {
    for (const issue of upstreamConflicts(c.upstreams ?? [])) {
      ctx.addIssue({ code: 'custom', path: ['upstreams', ...issue.path], message: issue.message });
    }
    (c.upstreams ?? []).forEach((u, i) => {
      const login = u.access?.login ?? c.access.login;
      if (login === 'required' && u.auth.mode === 'passthrough') {
        ctx.addIssue({
          code: 'custom',
          path: ['upstreams', i, 'access', 'login'],
          message: "a passthrough upstream gets the client's own upstream credentials; it cannot also require a Pullgate login",
        });
      }
      if (u.mirrors.length > 0 && u.auth.mode === 'passthrough') {
        ctx.addIssue({ code: 'custom', path: ['upstreams', i, 'mirrors'], message: 'mirrors need auth mode mirror: client credentials belong to the origin only' });
      }
    });
    if (c.cluster && c.cache.storage.type !== 's3') {
      ctx.addIssue({ code: 'custom', path: ['cluster'], message: 'replicas share their cache through a bucket: set cache.storage.type to s3' });
    }
    for (const [i, message] of passthroughConflicts(c.tls.passthrough)) ctx.addIssue({ code: 'custom', path: ['tls', 'passthrough', i, 'sni'], message });
    const mirrorHosts = new Set((c.upstreams ?? []).flatMap((u) => u.hosts));
    c.tls.passthrough.forEach((r, i) => {
      if (mirrorHosts.has(r.sni)) ctx.addIssue({ code: 'custom', path: ['tls', 'passthrough', i, 'sni'], message: `${r.sni} is a mirror host of an upstream` });
    });
    if (c.tls.passthrough.length > 0 && !c.listen.https) {
      ctx.addIssue({ code: 'custom', path: ['tls', 'passthrough'], message: 'passthrough routes need listen.https' });
    }
    if (c.listen.https && c.tls.certificates.length === 0 && !c.tls.acme) {
      ctx.addIssue({ code: 'custom', path: ['tls', 'certificates'], message: 'listen.https needs at least one certificate' });
    }
    if (c.tls.acme?.challenge === 'http-01' && c.listen.http && c.listen.http === c.tls.acme.httpListen) {
      ctx.addIssue({ code: 'custom', path: ['tls', 'acme', 'httpListen'], message: 'must differ from listen.http' });
    }
    if (c.tls.acme && !c.listen.https) ctx.addIssue({ code: 'custom', path: ['tls', 'acme'], message: 'tls.acme needs listen.https' });
    if (c.tls.acme && !c.tls.acme.hosts && !(c.upstreams ?? []).some((u) => u.hosts.length > 0)) {
      ctx.addIssue({ code: 'custom', path: ['tls', 'acme', 'hosts'], message: 'name the hostnames, or map them in upstreams[].hosts' });
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
