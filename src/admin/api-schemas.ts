// The admin API's request and response shapes, in one place: the routes validate with them, the OpenAPI document
// is generated from them, and the web UI imports their types (types only: no schema code reaches the browser).
import { z } from 'zod';
import { upstreamSchema } from '../config/schema.js';

// ---- errors ----------------------------------------------------------------------------------------------------

export const fieldError = z.object({ path: z.string(), message: z.string() });
export const apiError = z.object({
  error: z.string().describe('a stable code: VALIDATION, UNAUTHORIZED, CSRF, NOT_FOUND, CONFLICT, READ_ONLY, TOO_MANY_ATTEMPTS ...'),
  message: z.string(),
  fields: z.array(fieldError).optional().describe('for VALIDATION: which field is wrong and why'),
});

// ---- session ---------------------------------------------------------------------------------------------------

export const loginRequest = z.strictObject({ password: z.string().min(1).max(1024) });
export const sessionView = z.object({
  authenticated: z.boolean(),
  via: z.enum(['session', 'token']).optional(),
  /** Send it back in the X-CSRF-Token header on every state-changing request made with the session cookie. */
  csrfToken: z.string().optional(),
});

export const tokenCreate = z.strictObject({ name: z.string().min(1).max(64) });
export const tokenView = z.object({ id: z.string(), name: z.string(), createdAt: z.number(), lastUsedAt: z.number().nullable() });
export const tokenCreated = tokenView.extend({ token: z.string().describe('shown once; only its hash is kept') });
export const tokenList = z.object({ tokens: z.array(tokenView) });

// ---- upstream sources ------------------------------------------------------------------------------------------

export { upstreamInput, type UpstreamInput } from '../upstream/upstream-input.js';
import { upstreamInput } from '../upstream/upstream-input.js';

export const rateLimitView = z.object({
  limit: z.number().optional(),
  remaining: z.number().optional(),
  /** The window the limit counts over (`;w=` of Docker Hub's headers): pulls come back within it. */
  windowSeconds: z.number().optional(),
  at: z.number(),
});

export const upstreamHealth = z.object({
  /** null until the mirror has talked to it. */
  reachable: z.boolean().nullable(),
  lastOkAt: z.number().nullable(),
  lastError: z.object({ at: z.number(), message: z.string() }).nullable(),
  /** The upstream as a whole: open when every URL's circuit is open (the cache answers at once). */
  circuit: z.enum(['closed', 'open', 'half-open']),
  /** Each URL in the order requests try them (mirrors, then the origin), with its own circuit. */
  urls: z
    .array(
      z.object({
        url: z.string(),
        role: z.enum(['mirror', 'origin']),
        circuit: z.enum(['closed', 'open', 'half-open']),
        failures: z.number(),
        lastFailure: z.string().optional(),
      }),
    )
    .optional(),
  rateLimit: rateLimitView.nullable(),
});

export const upstreamView = z.object({
  name: z.string(),
  registry: z.string(),
  url: z.string(),
  /** Tried in order before `url`. */
  mirrors: z.array(z.string()),
  allowPrivateRedirects: z.boolean(),
  retries: z.object({ attempts: z.number(), minDelayMs: z.number(), maxDelayMs: z.number() }),
  circuit: z.object({ failures: z.number(), openForMs: z.number() }),
  hosts: z.array(z.string()),
  default: z.boolean(),
  auth: z.object({ mode: z.enum(['mirror', 'passthrough']), username: z.string().optional(), hasPassword: z.boolean() }),
  hasCa: z.boolean(),
  insecureSkipVerify: z.boolean(),
  /** Blob fills read the upstream's answers straight from the socket (docs/operating.md, "Direct reads of blob bodies"). */
  directReads: z.boolean(),
  proxy: z.string().optional(),
  tagTtlMs: z.number(),
  offline: z.boolean(),
  enabled: z.boolean(),
  access: z.object({ allow: z.array(z.string()).optional(), deny: z.array(z.string()).optional(), login: z.enum(['off', 'required']).optional() }).optional(),
  policy: z.object({ allow: z.array(z.string()), deny: z.array(z.string()) }).optional(),
  /** The signature policy (docs/signatures.md): from the config file (read-only), or set here for an admin upstream. */
  signatures: z
    .object({
      customTrustedRoot: z.boolean(),
      require: z.array(
        z.object({
          repositories: z.array(z.string()),
          mode: z.enum(['enforce', 'audit']),
          threshold: z.number(),
          /** SHA-256 fingerprints of the public keys (`sha256:…`). */
          keys: z.array(z.string()),
          identities: z.array(z.object({ issuer: z.string(), subject: z.string() })),
          /** The identities as configured (exact or regular expression), for an edit. */
          identityRules: z.array(z.object({ issuer: z.string().optional(), issuerRegExp: z.string().optional(), subject: z.string().optional(), subjectRegExp: z.string().optional() })),
        }),
      ),
    })
    .optional(),
  /** Segmented fills (docs/segmented-fills.md): the defaults when not configured. */
  segments: z.object({ connections: z.number(), maxConnections: z.number(), sizeBytes: z.number(), thresholdBytes: z.number(), resumes: z.number(), stallTimeoutMs: z.number() }),
  /**
   * Set when a webhook receives a JSON event when a watched tag moves (docs/watch.md): its origin only (scheme,
   * host, port). Its path, query and user-info can carry the hook's secret and are never shown; an edit that
   * leaves `watchWebhook` out keeps it.
   */
  watchWebhook: z.object({ origin: z.string() }).optional(),
  /** The upstream's own `watch` entries (docs/watch.md), not those added on the watch page. */
  watch: z.array(
    z.object({ repository: z.string(), tags: z.array(z.string()), newest: z.number().optional(), maxTags: z.number(), platforms: z.array(z.string()) }).extend({
      everyMs: z.number().optional(),
      cron: z.string().optional(),
      jitterMs: z.number(),
      keep: z.number(),
    }),
  ),
  /** The quota governor's view of this upstream (docs/watch.md). */
  quota: z.object({
    /** The upstream's `quota` setting, as stored (what an edit sends back). */
    setting: z.object({ reserve: z.number() }),
    reserve: z.number(),
    /** Background work is paused until then, after a 429. */
    pausedUntil: z.number().optional(),
    heldBack: z.object({ watch: z.number(), live: z.number() }),
  }),
  /** `config`: declared in the config file, read-only here. `admin`: managed through this API. */
  source: z.enum(['config', 'builtin', 'admin']),
  health: upstreamHealth,
});
export type UpstreamView = z.infer<typeof upstreamView>;
export const upstreamList = z.object({ upstreams: z.array(upstreamView) });
export const upstreamPatch = z.strictObject({ enabled: z.boolean().optional(), offline: z.boolean().optional() });

export const testRequest = z.strictObject({
  /** Settings to try (a new or edited upstream, not saved). Omitted: the saved upstream named in the path. */
  upstream: upstreamInput.optional(),
  /** A repository:tag to HEAD, e.g. `library/alpine:latest`. Default: the registry's `/v2/` and no manifest step. */
  image: z.string().max(512).optional(),
});
export const testStep = z.object({
  step: z.enum(['resolve', 'connect', 'token', 'manifest']),
  ok: z.boolean(),
  detail: z.string(),
  ms: z.number(),
});
export const testResult = z.object({ ok: z.boolean(), steps: z.array(testStep) });
export type TestResult = z.infer<typeof testResult>;

// ---- cache -----------------------------------------------------------------------------------------------------

export const trafficTotals = z.object({
  bytesServed: z.number(),
  bytesFetched: z.number(),
  /** Bytes served from the cache (hits): upstream traffic the cache avoided. */
  bytesSaved: z.number(),
  /** Bytes fetched by prefetch jobs (part of bytesFetched, never of bytesServed). */
  bytesPrefetched: z.number(),
  hits: z.number(),
  misses: z.number(),
  /** hits / (hits + misses), null before any request. */
  hitRatio: z.number().nullable(),
});

export const cacheSummary = z.object({
  size: z.number(),
  maxSize: z.number(),
  blobs: z.number(),
  manifests: z.number(),
  tags: z.number(),
  traffic: trafficTotals,
  /** The file system of the data directory: null where it cannot be asked (or with shared storage). */
  disk: z.object({ total: z.number(), used: z.number(), free: z.number() }).nullable(),
  upstreams: z.array(
    z.object({
      name: z.string(),
      /** Whether the upstream is configured now (not only found in the cache or the traffic history). */
      configured: z.boolean(),
      repositories: z.number(),
      tags: z.number(),
      /** Bytes of its cached images (a blob shared with another upstream counts for both). */
      size: z.number(),
      traffic: trafficTotals,
    }),
  ),
});
export type CacheSummary = z.infer<typeof cacheSummary>;

export const trafficQuery = z.object({ hours: z.coerce.number().int().min(1).max(24 * 31).default(24) });
export const trafficSeries = z.object({
  /** One minute for the last hour, five minutes up to a day, an hour beyond. */
  bucketMs: z.number(),
  points: z.array(z.object({ at: z.number(), bytesServed: z.number(), bytesFetched: z.number() })),
});

export const repositoriesQuery = z.object({ upstream: z.string().min(1) });
export const repositoryView = z.object({
  upstream: z.string(),
  repository: z.string(),
  tags: z.number(),
  images: z.number(),
  size: z.number(),
  lastPulledAt: z.number().nullable(),
  pulls: z.number(),
});
export const repositoryList = z.object({ repositories: z.array(repositoryView) });

export const imagesQuery = z.object({ upstream: z.string().min(1), repository: z.string().min(1) });
export const imageView = z.object({
  digest: z.string(),
  mediaType: z.string(),
  tags: z.array(z.string()),
  /** The manifest, its stored child manifests and every stored blob they reference. */
  size: z.number(),
  lastPulledAt: z.number(),
  pulls: z.number(),
  pinned: z.boolean(),
  platforms: z.array(z.string()),
  /** The newest signature verdict on the image under its upstream's policy (docs/signatures.md); absent when none. */
  signature: z
    .object({
      result: z.enum(['pass', 'fail']),
      mode: z.enum(['enforce', 'audit']),
      requirement: z.string(),
      /** Who vouched for it: `key sha256:…` or `subject (issuer)`. */
      signers: z.array(z.string()),
      reason: z.string().optional(),
      at: z.number(),
    })
    .optional(),
});
export const imageList = z.object({ images: z.array(imageView) });

export const imageQuery = z.object({ upstream: z.string().min(1), repository: z.string().min(1), digest: z.string().min(1) });
export const imagePart = z.object({
  kind: z.enum(['index', 'manifest', 'config', 'layer']),
  digest: z.string(),
  mediaType: z.string(),
  /** Bytes stored for it; null for a blob named by a manifest but not (or no longer) stored. */
  size: z.number().nullable(),
  /** For a platform manifest and its blobs. */
  platform: z.string().optional(),
});
/** One image: what the list says, and every stored part with its size; the stored parts' sizes sum to `size`. */
export const imageDetail = imageView.extend({
  upstream: z.string(),
  repository: z.string(),
  registry: z.string(),
  parts: z.array(imagePart),
});

export const purgeRequest = z.union([
  z.strictObject({ digest: z.string().regex(/^[a-z0-9]+(?:[+._-][a-z0-9]+)*:[a-zA-Z0-9=_-]+$/, 'expected a digest') }),
  z.strictObject({ upstream: z.string().min(1), repository: z.string().min(1).optional(), tag: z.string().min(1).optional() }),
]);
export const purgeResult = z.object({ manifests: z.number(), blobs: z.number(), tags: z.number(), bytes: z.number() });

export const pinRequest = z.strictObject({ pin: z.string().min(3).max(512) });
export const upstreamQuery = z.object({ upstream: z.string().min(1) });
export const pinList = z.object({ pins: z.array(z.object({ pin: z.string(), source: z.enum(['config', 'admin']) })) });
export const evictResult = z.object({ ran: z.boolean(), removedImages: z.number(), removedBlobs: z.number(), bytes: z.number() });

// ---- prefetch --------------------------------------------------------------------------------------------------

export const prefetchRequest = z.strictObject({
  /** `registry/repository:tag` or `@digest`, as a client names them (`alpine`, `gcr.io/distroless/base:latest`). */
  images: z.array(z.string().min(1).max(512)).min(1).max(100),
  /** `os/arch[/variant]`; an index is narrowed to these. Default: every platform. */
  platforms: z.array(z.string().regex(/^[a-z0-9]+\/[a-z0-9_]+(?:\/[a-z0-9]+)?$/, 'expected os/arch[/variant]')).default([]),
});
export const prefetchImage = z.object({
  image: z.string(),
  state: z.enum(['queued', 'running', 'done', 'failed', 'cancelled']),
  /** The upstream the image resolved to, once known. */
  upstream: z.string().optional(),
  bytesDone: z.number(),
  bytesTotal: z.number(),
  blobsDone: z.number(),
  blobsTotal: z.number(),
  error: z.string().optional(),
});
export const prefetchJob = z.object({
  id: z.string(),
  createdAt: z.number(),
  /** partial: some images done and some failed or cancelled. */
  state: z.enum(['running', 'done', 'partial', 'failed', 'cancelled']),
  platforms: z.array(z.string()),
  images: z.array(prefetchImage),
});
export type PrefetchJob = z.infer<typeof prefetchJob>;
export const prefetchJobList = z.object({ jobs: z.array(prefetchJob) });

// ---- activity --------------------------------------------------------------------------------------------------

export const fillView = z.object({
  digest: z.string(),
  upstream: z.string(),
  repository: z.string(),
  bytesDone: z.number(),
  /** null when the upstream did not say. */
  bytesTotal: z.number().nullable(),
  /** bytes per second over the last few seconds. */
  rate: z.number(),
  startedAt: z.number(),
  followers: z.number(),
  /** A segmented fill's segments (docs/segmented-fills.md); absent for a fill fetched as one stream. */
  segments: z
    .array(z.object({ start: z.number(), end: z.number(), received: z.number(), state: z.enum(['waiting', 'fetching', 'retrying', 'done']), tries: z.number() }))
    .optional(),
});
export const requestView = z.object({
  at: z.number(),
  method: z.string(),
  upstream: z.string().optional(),
  repository: z.string().optional(),
  kind: z.string().optional(),
  reference: z.string().optional(),
  status: z.number(),
  cache: z.string().optional(),
  bytes: z.number(),
  ms: z.number(),
  client: z.string(),
});
/** A watch list event (docs/watch.md): a watched tag moved, a run failed, a run was held back by the quota governor. */
export const watchEventView = z.object({
  at: z.number(),
  type: z.enum(['tag-moved', 'run-failed', 'run-held']),
  entry: z.string(),
  upstream: z.string(),
  repository: z.string().optional(),
  tag: z.string().optional(),
  from: z.string().optional(),
  to: z.string().optional(),
  bytes: z.number().optional(),
  message: z.string().optional(),
});
/** `recent`: the latest finished registry requests, newest first; `watch`: the latest watch list events, newest first. */
export const activitySnapshot = z.object({ fills: z.array(fillView), recent: z.array(requestView), watch: z.array(watchEventView) });
export type ActivitySnapshot = z.infer<typeof activitySnapshot>;

// ---- setup snippets --------------------------------------------------------------------------------------------

export const setupQuery = z.object({
  /** The mirror's address as clients reach it, e.g. `https://mirror.example.com`. Default: from the config. */
  mirror: z.string().url().optional(),
  /** Where the mirror's CA certificate is on the client machines, when the mirror uses a private CA. */
  caFile: z.string().min(1).max(4096).optional(),
});
export const snippet = z.object({
  id: z.string(),
  title: z.string(),
  /** Where the snippet goes on the client machine. */
  file: z.string(),
  language: z.enum(['json', 'toml', 'yaml', 'shell', 'text']),
  content: z.string(),
  upstream: z.string().optional(),
  /** Which client it is for: the setup page groups by it. */
  client: z.enum(['docker', 'containerd', 'podman', 'kubernetes', 'any']),
});
export const setupView = z.object({
  mirror: z.string(),
  /** Where the address came from: asked for, the config's publicUrl, a name the TLS certificates cover, this
   * machine's host name, or the listener's own address. */
  mirrorFrom: z.enum(['query', 'publicUrl', 'certificate', 'hostname', 'listener']),
  /** Other names the TLS certificates cover, to pick from. */
  candidates: z.array(z.string()),
  /** Problems with the address, in words (a loopback address no other machine can use). */
  warnings: z.array(z.string()),
  snippets: z.array(snippet),
});
export type Snippet = z.infer<typeof snippet>;

// ---- registry users (access.login: required) ----------------------------------------------------------------

export const registryUserCreate = z.strictObject({
  username: z.string().regex(/^[A-Za-z0-9._@-]{1,64}$/, 'letters, digits and . _ @ -'),
  password: z.string().min(8, 'at least 8 characters').max(1024),
});
export const registryUserList = z.object({
  users: z.array(z.object({ username: z.string(), source: z.enum(['config', 'stored']), createdAt: z.number().nullable() })),
});

// ---- TLS passthrough routes ---------------------------------------------------------------------------------

export const passthroughCreate = z.strictObject({ sni: z.string().max(253), to: z.string().max(300) });
export const passthroughList = z.object({
  routes: z.array(
    z.object({
      sni: z.string(),
      to: z.string(),
      source: z.enum(['config', 'admin']),
      stats: z.object({ connections: z.number(), active: z.number(), bytesIn: z.number(), bytesOut: z.number() }),
    }),
  ),
});
