// The composition root: config -> logger -> upstreams -> router -> registry listeners. Building does not
// listen, so tests can inject or listen on port 0.
import { mkdir, readFile } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import type { Config } from './config/config.js';
import { Activity } from './admin/activity.js';
import { AdminAuth } from './admin/admin-auth.js';
import { AdminPins } from './admin/admin-pins.js';
import { AuditLog } from './admin/audit-log.js';
import { buildAdminServer } from './admin/admin-server.js';
import { CacheBrowser } from './admin/cache-browser.js';
import { Prefetcher } from './admin/prefetch.js';
import { SecretBox } from './admin/secret-box.js';
import { Traffic } from './admin/traffic.js';
import { PassthroughSources } from './admin/passthrough-sources.js';
import { UpstreamSources } from './admin/upstream-sources.js';
import { AccessControl } from './access/access-control.js';
import { ClientLimits } from './access/client-limits.js';
import { RegistryTokens } from './access/registry-tokens.js';
import { RegistryUsers } from './access/registry-users.js';
import { createAcme, type Acme } from './acme/acme.js';
import { FillRoom } from './cache/disk-space.js';
import { openLocalCache, type LocalCache } from './cache/local-cache.js';
import { createSharedView } from './catalog/shared-view.js';
import { reloadConfig, type ReloadResult } from './config-reload.js';
import type { UpstreamConfig } from './config/config.js';
import { createLogger, logFormat } from './logger.js';
import { Metrics } from './metrics/metrics.js';
import { Fills } from './mirror/fills.js';
import { RepositoryAccess } from './mirror/repository-access.js';
import type { MirrorServices } from './mirror/services.js';
import { SignatureGate } from './mirror/signature-gate.js';
import { SignatureVerdicts } from './cache/signature-verdicts.js';
import { QuotaGovernor } from './watch/quota-governor.js';
import { createWatch, entriesOf, type Watch } from './watch/watch-service.js';
import { AdminWatchEntries } from './admin/admin-watch-entries.js';
import { WatchMetrics } from './metrics/watch-metrics.js';
import { WatchWebhook } from './watch/watch-webhook.js';
import type { Timer } from './watch/watch-scheduler.js';
import { CertificateStore } from './server/certificates.js';
import { Drain } from './server/drain.js';
import { parseListenAddress } from './server/listen-address.js';
import { registerOperationsRoutes } from './server/operations-routes.js';
import { Readiness, type ReadinessReport } from './server/readiness.js';
import type { AccessInfo } from './server/access-log.js';
import { MirrorNames } from './server/mirror-names.js';
import { buildRegistryServer } from './server/registry-server.js';
import { UpstreamSet } from './upstream/upstream-set.js';
import { SniRouter, type AdmitPassthrough } from './server/sni-router.js';
import { SniRoutes } from './server/sni-routes.js';
import type { UpstreamRouter } from './upstream/router.js';
import { Upstream } from './upstream/upstream.js';
import { createCluster } from './cluster/cluster.js';
import { createWorkerCluster } from './workers/worker-cluster.js';
import { shareWorkerMetrics } from './workers/machine-metrics.js';
import { followStoredCertificates } from './workers/stored-certificates.js';
import { announceAdminChanges, onAdminChanges } from './workers/admin-changes.js';
import type { WorkerContext } from './workers/worker-context.js';

export interface AppOptions {
  log?: Logger;
  clock?: () => number;
  /** The admin password (tests); else PULLGATE_ADMIN_PASSWORD, admin.passwordFile, the stored one, or generated. */
  adminPassword?: string;
  /** Where the admin serves the web UI from (tests); default web/dist of this installation. */
  webDir?: string;
  /** Who may use a TLS passthrough route (default: everyone). */
  admitPassthrough?: AdmitPassthrough;
  /** Reads the configuration again (the file it came from, the environment, the flags): enables reloadConfig(). */
  loadConfig?: () => Promise<Config>;
  /** The watch scheduler's timer (tests drive it with their clock instead). */
  watchTimer?: Timer;
  /** One of several worker processes of this machine (docs/workers.md); absent in a server of one process. */
  worker?: WorkerContext;
}

export type { ReloadResult } from './config-reload.js';

export interface Listening {
  http?: string;
  https?: string;
  admin?: string;
  /** The HTTP-01 challenge listener, with `tls.acme`. */
  acmeChallenges?: string;
  /** The internal endpoint for the other replicas, with `cluster`. */
  cluster?: string;
}

export interface App {
  /** The configuration in effect (after reloads). */
  readonly config: Config;
  readonly log: Logger;
  /** The router for the next request (upstreams change live through the admin). */
  router(): UpstreamRouter;
  readonly upstreams: UpstreamSet;
  readonly sources: UpstreamSources;
  readonly cache: LocalCache;
  readonly services: MirrorServices;
  readonly metrics: Metrics;
  /** Watch lists and the quota governor (docs/watch.md). */
  readonly watch: Watch;
  readonly http?: FastifyInstance;
  readonly https?: FastifyInstance;
  readonly admin?: FastifyInstance;
  /** TLS passthrough routes, editable at run time. */
  readonly passthroughRoutes: SniRoutes;
  /** The HTTPS port's front door: passthrough pipes, their counters. */
  readonly sni?: SniRouter;
  /** Automatic certificates, when `tls.acme` is configured. */
  readonly acme?: Acme;
  listen(): Promise<Listening>;
  ready(): Promise<ReadinessReport>;
  reloadCertificates(): Promise<void>;
  /** Re-reads the configuration and applies what can change live; a broken one is refused and the old one kept. */
  reloadConfig(): Promise<ReloadResult>;
  /** Stops accepting, lets responses in progress finish for up to `shutdownGrace`, then closes everything. */
  close(): Promise<void>;
}

export async function createApp(initialConfig: Config, options: AppOptions = {}): Promise<App> {
  let config = initialConfig;
  const log = options.log ?? createLogger(config.log.level, undefined, logFormat(config.log.format, process.stdout.isTTY === true));
  // Child loggers copy the level when made; a reload sets it on each of them.
  const loggers = [log];
  const child = (component: string): Logger => {
    const l = log.child({ component });
    loggers.push(l);
    return l;
  };
  await mkdir(config.dataDir, { recursive: true });
  const clock = options.clock ?? Date.now;
  const upstreamLog = child('upstream');
  // A worker's siblings have fills in progress: the supervisor cleaned the temp files before they started.
  const cache = await openLocalCache(config, child('cache'), clock, { cleanTemp: !options.worker });
  // The work done once per machine (admin, watch scheduler, ACME, heartbeats) runs in the lead worker only.
  const lead = options.worker?.lead ?? true;
  await mkdir(cache.temp.dir, { recursive: true });
  // A bucket's commit is an upload: clients get the verified bytes without waiting for it.
  const fills = new Fills(
    () => cache.temp.create(),
    config.cache.fillIdleTimeout,
    (err) => {
      if (!cache.gate.failed(err)) log.warn({ err }, 'blob fill failed');
    },
    config.cache.storage.type === 's3',
  );
  const cluster = config.cluster
    ? createCluster(config.cluster, config.cache.storage, cache.store, fills, config.timeouts, child('cluster'))
    : options.worker
      ? await createWorkerCluster(options.worker, config.dataDir, cache.store, fills, config.timeouts, child('workers'))
      : undefined;
  if (cluster) cache.setEvictionTurn(cluster.evictionTurn);
  const traffic = new Traffic(cache.db, clock);
  const metrics = new Metrics({
    totals: () => cache.index.totals(),
    fillsInFlight: () => fills.size,
    fetched: (upstream, bytes) => traffic.fetched(upstream, bytes),
  });
  if (options.worker) metrics.exposition = shareWorkerMetrics(metrics.registry);
  // The pull quota the upstreams announce, budgeted between clients and background work (docs/watch.md).
  const quota = new QuotaGovernor((name) => config.upstreams.find((u) => u.name === name)?.quota?.reserve ?? 20, clock);
  // Timeouts are read when an Upstream is built: a reload that changes them rebuilds every upstream.
  const makeUpstream = (u: UpstreamConfig): Upstream => {
    const observer = metrics.upstream(u.name);
    const { connect, headers, idle } = config.timeouts;
    return new Upstream(u, {
      timeouts: { connect, headers, idle },
      ...(options.clock ? { clock: options.clock } : {}),
      userAgent: 'pullgate/0.1',
      observer,
      onRateLimit: (upstream, rateLimit) => {
        observer.rateLimited(rateLimit);
        quota.observed(upstream, rateLimit);
        upstreamLog.info({ upstream, ...rateLimit }, 'upstream rate limit');
      },
      onRefused: (upstream, retryAfterMs) => quota.refused(upstream, retryAfterMs),
      onFailure: (upstream, url, message) => upstreamLog.warn({ upstream, url, reason: message }, 'upstream request failed'),
      onCircuit: (upstream, url, change) =>
        upstreamLog[change.to === 'open' ? 'warn' : 'info']({ upstream, url, circuit: change.to, from: change.from, failures: change.failures, reason: change.reason }, 'upstream circuit'),
    });
  };
  // Upstreams: the config file's, plus those added through the admin (stored in the cache database), applied live.
  const secrets = await SecretBox.open(config.dataDir);
  const sources = new UpstreamSources(cache.db, secrets, config, (effective, rebuild) => liveUpstreams.apply(effective, rebuild), clock);
  const liveUpstreams = new UpstreamSet(makeUpstream, await sources.start());
  const router = (): UpstreamRouter => liveUpstreams.router();
  const pins = new AdminPins(cache.db, config.cache.pins, (all) => {
    cache.policy.pins = all;
  }, clock);
  cache.policy.pins = pins.parsed();
  const registryUsers = new RegistryUsers(cache.db, config.access.users, clock);
  const access = new AccessControl(
    config.access,
    registryUsers,
    new RegistryTokens(secrets.derive('registry-tokens'), 3600, clock),
    new ClientLimits(config.access.limits, clock),
  );
  const runEviction = () =>
    void cache
      .evict()
      .then((r) => r && metrics.evicted(r))
      .catch((err: unknown) => log.error({ err }, 'eviction failed'));
  const verdicts = new SignatureVerdicts(cache.db);
  const fillRoom = new FillRoom(() => config.cache.maxSize);
  const services: MirrorServices = {
    index: cache.index,
    store: cache.store,
    catalog: cache.catalog,
    fills,
    access: new RepositoryAccess(cache.index, clock, cache.catalog),
    caching: {
      allowed: () => cache.gate.allowed(),
      suspend: (reason) => cache.gate.suspend(reason),
      committed: () => {
        cache.gate.succeeded();
        runEviction();
      },
      reserve: (bytes) => fillRoom.reserve(bytes),
    },
    clock,
    ...(cluster ? { cluster: cluster.fills } : {}),
    signatures: new SignatureGate(verdicts, clock, metrics),
    quota,
  };
  const activity = new Activity(fills, traffic, clock);
  const sharedView = cache.bucket
    ? createSharedView({
        config,
        bucket: cache.bucket,
        catalog: cache.catalog,
        figures: () => {
          const { bytesServed, bytesFetched, hits, misses } = traffic.totals().overall;
          return { bytesServed, bytesFetched, hits, misses, fillsInFlight: fills.size };
        },
        log: child('catalog'),
        clock,
      })
    : undefined;
  const registryLog = child('registry');
  let certificates: CertificateStore | undefined;
  if (config.listen.https) {
    certificates = new CertificateStore(config.tls.certificates, child('tls'));
    await certificates.load();
  }
  const names = new MirrorNames({
    ...(config.publicUrl ? { publicUrl: config.publicUrl } : {}),
    upstreamHosts: () => router().hosts,
    ...(config.tls.acme ? { acmeHosts: config.tls.acme.hosts } : {}),
    ...(certificates ? { certificates } : {}),
  });
  const common = {
    router,
    services,
    log: registryLog,
    keepAliveMs: config.timeouts.keepAlive,
    access,
    metrics,
    clientIdleMs: config.access.clientIdleTimeout,
    names,
    onFinished: (info: AccessInfo, status: number, bytes: number, ms: number) => activity.accessFinished(info, status, bytes, ms),
  };

  const acme = certificates && config.tls.acme
    ? await createAcme(config.tls.acme, config.dataDir, certificates, child('acme'), clock)
    : undefined;
  const http = config.listen.http ? buildRegistryServer(common) : undefined;
  const https = certificates ? buildRegistryServer({ ...common, certificates }) : undefined;
  const servers = [http, https].filter((s): s is FastifyInstance => s !== undefined);
  const drain = new Drain();
  for (const server of servers) drain.track(server);
  const prefetcher = new Prefetcher(services, router, child('prefetch'), clock, (upstream, bytes) => traffic.prefetched(upstream, bytes));
  // Watch entries: the config file's and the admin's, both read by the scheduler at every tick (docs/watch.md).
  const watchEntries = new AdminWatchEntries(
    cache.db,
    () => entriesOf(router().upstreams.map((u) => u.config)),
    (name) => router().named(name) !== undefined,
    clock,
  );
  const watchMetrics = new WatchMetrics(metrics.registry, () => quota.all());
  const webhook = new WatchWebhook((name) => router().named(name)?.config.watchWebhook, child('watch'), clock);
  const watch = createWatch({
    db: cache.db,
    services,
    router,
    clock,
    log: child('watch'),
    governor: quota,
    adminEntries: () => watchEntries.list(),
    onEvent: (e) => {
      if (e.type === 'tag-moved') watchMetrics.tagMoved(e.upstream);
      activity.watchEvent(e);
      void webhook.deliver(e);
    },
    onRun: (entry, result) => watchMetrics.run(entry.upstream, result.result),
    ...(cluster ? { leases: cluster.leases } : {}),
    ...(options.watchTimer ? { timer: options.watchTimer } : {}),
  });
  cache.policy.retained = () => watch.retained();
  const bound: Listening = {};

  // TLS passthrough routes: the config file's and the admin's, editable while the HTTPS port runs.
  const passthroughSources = new PassthroughSources(
    cache.db,
    config.tls.passthrough,
    () => new Set(liveUpstreams.all().flatMap((u) => u.config.hosts)),
    (routes) => passthroughRoutes.replace(routes),
    clock,
  );
  const passthroughRoutes = new SniRoutes(passthroughSources.routes());
  // With several workers, what the lead's admin stores is read again by the others (docs/workers.md).
  if (options.worker && !lead) {
    onAdminChanges(() => {
      liveUpstreams.apply(sources.effective());
      cache.policy.pins = pins.parsed();
      passthroughRoutes.replace(passthroughSources.routes());
    });
  }

  let admin: FastifyInstance | undefined;
  if (config.listen.admin && lead) {
    const adminLog = child('admin');
    const password = options.adminPassword ?? process.env.PULLGATE_ADMIN_PASSWORD ?? (config.admin.passwordFile ? await readPasswordFile(config.admin.passwordFile) : undefined);
    const auth = new AdminAuth(cache.db, adminLog, { ...(password !== undefined ? { password } : {}), sessionTtlMs: config.admin.sessionTtlMs, clock });
    await auth.init();
    admin = await buildAdminServer(
      {
        get config() {
          return config;
        },
        log: adminLog,
        auth,
        sources,
        upstreams: liveUpstreams,
        makeUpstream,
        cache,
        browser: new CacheBrowser(cache.db, () => cache.policy.pins),
        pins,
        traffic,
        audit: new AuditLog(cache.db, clock),
        activity,
        prefetcher,
        users: registryUsers,
        passthrough: passthroughSources,
        sniStats: () => sni?.stats(),
        registryAddresses: () => bound,
        cluster: () => sharedView?.heartbeats.view(),
        watch,
        watchEntries,
        verdicts,
      },
      options.webDir ? { webDir: options.webDir } : {},
    );
  }
  if (admin && options.worker) announceAdminChanges(admin);
  // The HTTPS port belongs to the SNI router; the TLS server only gets the connections it should terminate.
  const sni =
    https && certificates
      ? new SniRouter({
          routes: passthroughRoutes,
          terminate: (socket) => https.server.emit('connection', socket),
          servesName: (name) => certificates.serves(name),
          unknownSni: config.tls.unknownSni,
          helloTimeoutMs: config.tls.helloTimeout,
          connectTimeoutMs: config.timeouts.connect,
          idleTimeoutMs: config.access.clientIdleTimeout,
          // The address rules apply to passthrough routes too (tests may replace the check).
          admit: options.admitPassthrough ?? ((peer) => access.admitsConnection(peer)),
          log: child('sni'),
          clock,
        })
      : undefined;

  const shown = (bound: AddressInfo, scheme: string): string =>
    `${scheme}://${bound.family === 'IPv6' ? `[${bound.address}]` : bound.address}:${bound.port}`;
  const listenOne = async (app: FastifyInstance, address: string, scheme: string): Promise<string> => {
    const { host, port } = parseListenAddress(address);
    await app.listen({ host, port });
    return shown(app.server.address() as AddressInfo, scheme);
  };

  metrics.watch({
    circuits: () => liveUpstreams.all().flatMap((u) => u.endpointViews().map((e) => ({ upstream: u.name, url: e.url, state: e.circuit, failures: e.failures }))),
    passthrough: () => sni?.stats(),
  });

  let draining = false;
  const readiness = new Readiness({
    pingDatabase: () => cache.ping(),
    writableDirs: () => [config.dataDir, cache.temp.dir],
    unboundListeners: () => [
      ...(http && !http.server.listening ? ['http'] : []),
      ...(sni && !sni.server.listening ? ['https'] : []),
      ...(admin && !admin.server.listening ? ['admin'] : []),
      ...(cluster && !cluster.server.server.listening ? ['cluster'] : []),
    ],
    draining: () => draining,
    clock,
  });

  let closing: Promise<void> | undefined;
  const close = async (): Promise<void> => {
    draining = true;
    const listening = [...(http?.server.listening ? [http.server] : []), ...(sni?.server.listening ? [sni.server] : [])];
    const cut = await drain.stopAccepting(listening, config.shutdownGrace);
    if (cut > 0) log.warn({ responses: cut, graceMs: config.shutdownGrace }, 'shutdown grace period over; cutting responses in progress');
    certificates?.close();
    await acme?.close();
    prefetcher.close();
    watch.close();
    await sni?.close();
    await Promise.all([http?.close(), https?.close(), admin?.close()]);
    await fills.abortAll();
    await cluster?.close();
    // Only the lead worker beats for the machine; another's stop would delete its heartbeat (docs/workers.md).
    if (lead) await sharedView?.stop();
    await cache.catalog.close();
    await liveUpstreams.close();
    traffic.close();
    cache.close();
  };

  const app: App = {
    get config() {
      return config;
    },
    log,
    router,
    upstreams: liveUpstreams,
    sources,
    cache,
    services,
    metrics,
    watch,
    ...(http ? { http } : {}),
    ...(https ? { https } : {}),
    ...(admin ? { admin } : {}),
    passthroughRoutes,
    ...(sni ? { sni } : {}),
    ...(acme ? { acme } : {}),
    async listen() {
      const out = bound;
      if (http && config.listen.http) out.http = await listenOne(http, config.listen.http, 'http');
      if (https && sni && config.listen.https) {
        const { host, port } = parseListenAddress(config.listen.https);
        await https.ready();
        out.https = shown(await sni.listen(host, port), 'https');
        certificates?.watch();
      }
      if (admin && config.listen.admin) out.admin = await listenOne(admin, config.listen.admin, 'http');
      if (cluster && config.cluster) out.cluster = shown(await cluster.server.listen(config.cluster.listen), 'http');
      if (lead) await sharedView?.start();
      if (lead) watch.scheduler.start();
      // Renewals and the HTTP-01 listener run in the lead worker; the others read what it stores (docs/workers.md).
      const acmeChallenges = lead ? await acme?.start() : acme && followStoredCertificates(acme, child('acme'));
      if (acmeChallenges) out.acmeChallenges = acmeChallenges;
      log.info({ ...out, upstreams: liveUpstreams.all().map((u) => `${u.name}=${u.config.registry}`) }, 'pullgate listening');
      return { ...out };
    },
    ready: () => readiness.check(),
    async reloadCertificates() {
      await certificates?.reload();
    },
    reloadConfig: () =>
      reloadConfig({
        log,
        loggers,
        ...(options.loadConfig ? { load: options.loadConfig } : {}),
        running: () => config,
        adopt: (next) => (config = next),
        fileUpstreams: (next, rebuild) => sources.setFileUpstreams(next, rebuild),
        upstreams: liveUpstreams,
        pins: (next) => pins.setFromConfig(next),
        cache,
        evict: runEviction,
        reloadCertificates: async () => certificates?.reload(),
      }),
    close() {
      closing ??= close();
      return closing;
    },
  };
  for (const server of servers) registerOperationsRoutes(server, app, { metrics: false });
  if (admin) registerOperationsRoutes(admin, app, { metrics: true });
  return app;
}

async function readPasswordFile(path: string): Promise<string> {
  return (await readFile(path, 'utf8')).replace(/\r?\n$/, '');
}
