// Upstream sources: list, add, edit, enable/disable, delete, and the step-by-step test.
import type { AdminContext } from '../admin-context.js';
import { AdminError } from '../admin-errors.js';
import { route, type AnyApiRoute } from '../api-kit.js';
import type { Upstream } from '../../upstream/upstream.js';
import { testRequest, testResult, upstreamInput, upstreamList, upstreamPatch, upstreamView, type TestResult, type UpstreamView } from '../api-schemas.js';
import { shownUrl } from '../../upstream/secret-destination.js';
import { testUpstream } from '../../upstream/upstream-test.js';
import { quotaOf, signaturesView } from '../upstream-policy-view.js';
import type { UpstreamSource } from '../../upstream/upstream-sources.js';
import { defaultSegmentSettings } from '../../config/config.js';
import { quotaSchema } from '../../config/watch.js';

export function upstreamRoutes(ctx: AdminContext): AnyApiRoute[] {
  return [...editRoutes(ctx), ...testRoutes(ctx)];
}

/**
 * Credentials are write-only: the view says whether one is set, never what it is (nor URL user-info). The watch
 * webhook is shown by its origin only: its path and query can carry the hook's secret (docs/security.md).
 */
function viewOf(ctx: AdminContext, s: UpstreamSource): UpstreamView {
  const live = ctx.upstreams.router().named(s.config.name);
  const health = live && s.enabled ? live.health.snapshot() : { reachable: null, lastOkAt: null, lastError: null };
  const rl = live?.rateLimit;
  return {
    name: s.config.name,
    registry: s.config.registry,
    url: shownUrl(s.config.url),
    mirrors: s.config.mirrors.map(shownUrl),
    allowPrivateRedirects: s.config.allowPrivateRedirects,
    retries: s.config.retries,
    circuit: s.config.circuit,
    hosts: s.config.hosts,
    default: s.config.default,
    auth: { mode: s.config.auth.mode, ...(s.config.auth.username ? { username: s.config.auth.username } : {}), hasPassword: s.hasPassword },
    hasCa: s.hasCa,
    insecureSkipVerify: s.config.insecureSkipVerify,
    directReads: s.config.directReads,
    ...(s.config.proxy ? { proxy: redactProxy(s.config.proxy) } : {}),
    tagTtlMs: s.config.tagTtlMs,
    offline: s.config.offline,
    enabled: s.enabled,
    ...(s.config.access ? { access: s.config.access } : {}),
    ...(s.config.policy ? { policy: s.config.policy } : {}),
    ...(s.config.signatures ? { signatures: signaturesView(s.config.signatures) } : {}),
    segments: s.config.segments ?? defaultSegmentSettings,
    ...(s.config.watchWebhook ? { watchWebhook: { origin: new URL(s.config.watchWebhook).origin } } : {}),
    watch: (s.config.watch ?? []).map(({ every, jitter, ...entry }) => ({ ...entry, ...(every !== undefined ? { everyMs: every } : {}), jitterMs: jitter ?? 0 })),
    quota: { ...quotaOf(ctx, s.config.name), setting: s.config.quota ?? quotaSchema.parse({}) },
    source: s.source,
    health: {
      ...health,
      circuit: live && s.enabled ? live.circuit : 'closed',
      ...(live && s.enabled ? { urls: live.endpointViews() } : {}),
      rateLimit: rl
        ? {
            ...(rl.limit !== undefined ? { limit: leadingNumber(rl.limit) } : {}),
            ...(rl.remaining !== undefined ? { remaining: leadingNumber(rl.remaining) } : {}),
            ...windowOf(rl.remaining ?? rl.limit),
            at: rl.at,
          }
        : null,
    },
  };
}

/** List, add, replace, enable/disable and delete. */
function editRoutes(ctx: AdminContext): AnyApiRoute[] {
  const view = (s: UpstreamSource): UpstreamView => viewOf(ctx, s);
  return [
    route({
      method: 'GET',
      url: '/api/upstreams',
      summary: 'Every upstream: from the config file (read-only) and added here, with health',
      tag: 'upstreams',
      response: upstreamList,
      handler: () => ({ upstreams: ctx.sources.list().map(view) }),
    }),
    route({
      method: 'POST',
      url: '/api/upstreams',
      summary: 'Add an upstream; the next registry request can use it',
      tag: 'upstreams',
      body: upstreamInput,
      response: upstreamView,
      status: 201,
      handler: async ({ req }) => view(await ctx.sources.create(req.body)),
    }),
    route({
      method: 'PUT',
      url: '/api/upstreams/:name',
      summary: 'Replace an upstream added here (omitted password, CA and watch webhook are kept; null removes one)',
      tag: 'upstreams',
      body: upstreamInput,
      response: upstreamView,
      handler: async ({ req, params }) => view(await ctx.sources.update(String(params.name), req.body)),
    }),
    route({
      method: 'PATCH',
      url: '/api/upstreams/:name',
      summary: 'Enable, disable or switch offline an upstream added here',
      tag: 'upstreams',
      body: upstreamPatch,
      response: upstreamView,
      handler: ({ body, params }) => view(ctx.sources.patch(String(params.name), body)),
    }),
    route({
      method: 'DELETE',
      url: '/api/upstreams/:name',
      summary: 'Delete an upstream added here (its cached content stays until purged or evicted)',
      tag: 'upstreams',
      handler: async ({ params }) => {
        await ctx.sources.remove(String(params.name));
      },
    }),
  ];
}

/** The step-by-step test of unsaved settings or of a saved upstream; what it learns is the upstream's health. */
function testRoutes(ctx: AdminContext): AnyApiRoute[] {
  const runTest = async (config: Parameters<AdminContext['makeUpstream']>[0], image: string | undefined) => {
    const upstream = ctx.makeUpstream(config);
    try {
      return await testUpstream(upstream, image, AbortSignal.timeout(30_000));
    } finally {
      void upstream.close().catch(() => undefined);
    }
  };

  return [
    route({
      method: 'POST',
      url: '/api/upstreams/test',
      summary: 'Try unsaved settings: resolve, connect, token, manifest HEAD; each step reported',
      tag: 'upstreams',
      body: testRequest,
      response: testResult,
      handler: async ({ body, req }) => {
        if (!body.upstream) throw new AdminError('VALIDATION', 'upstream: the settings to try are required', { fields: [{ path: 'upstream', message: 'required' }] });
        const trial = await ctx.sources.trial((req.body as { upstream: unknown }).upstream);
        try {
          const result = await runTest(trial.config, body.image);
          // The form of a saved upstream, tried at its own URL: what the test learnt is that upstream's health.
          const live = ctx.upstreams.router().named(trial.config.name);
          if (live && live.config.url.href === trial.config.url.href) noteTested(live, result);
          return result;
        } finally {
          await trial.cleanup();
        }
      },
    }),
    route({
      method: 'POST',
      url: '/api/upstreams/:name/test',
      summary: 'Try a saved upstream: resolve, connect, token, manifest HEAD',
      tag: 'upstreams',
      body: testRequest,
      response: testResult,
      handler: async ({ body, params }) => {
        const name = String(params.name);
        const result = await runTest(ctx.sources.get(name).config, body.image);
        // The test talked to the upstream: what it learnt is the upstream's health too (the list's status).
        const live = ctx.upstreams.router().named(name);
        if (live) noteTested(live, result);
        return result;
      },
    }),
  ];
}

/** A proxy URL may carry credentials: never shown. */
function redactProxy(proxy: string): string {
  const url = new URL(proxy);
  if (url.username || url.password) {
    url.username = '';
    url.password = '';
    return `${url.href.replace(/\/$/, '')} (with credentials)`;
  }
  return url.href.replace(/\/$/, '');
}

/** A test's outcome as the upstream's health: an answer, or the first failed step's detail as its last error. */
function noteTested(live: Upstream, result: TestResult): void {
  if (result.ok) live.health.answered(200);
  else live.health.failed(result.steps.find((s) => !s.ok)?.detail ?? 'the test failed');
}

/** `76;w=21600` -> the window the limit counts over (21600 s): the pulls come back within it. */
function windowOf(value: string | undefined): { windowSeconds?: number } {
  const w = Number(/;\s*w=(\d+)/.exec(value ?? '')?.[1]);
  return Number.isFinite(w) && w > 0 ? { windowSeconds: w } : {};
}

/** `ratelimit-remaining: 76;w=21600` -> 76. */
function leadingNumber(value: string): number | undefined {
  const n = Number(/^\s*(\d+)/.exec(value)?.[1]);
  return Number.isFinite(n) ? n : undefined;
}
