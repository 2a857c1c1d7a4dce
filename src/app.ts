// The composition root: config -> logger -> upstreams -> router -> registry listeners. Building does not
// listen, so tests can inject or listen on port 0.
import { mkdir } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import type { Config } from './config/config.js';
import { openLocalCache, type LocalCache } from './cache/local-cache.js';
import { reloadConfig, type ReloadResult } from './config-reload.js';
import { createLogger } from './logger.js';
import { Metrics } from './metrics/metrics.js';
import { Fills } from './mirror/fills.js';
import { RepositoryAccess } from './mirror/repository-access.js';
import type { MirrorServices } from './mirror/services.js';
import { CertificateStore } from './server/certificates.js';
import { Drain } from './server/drain.js';
import { parseListenAddress } from './server/listen-address.js';
import { registerOperationsRoutes } from './server/operations-routes.js';
import { Readiness, type ReadinessReport } from './server/readiness.js';
import { buildRegistryServer } from './server/registry-server.js';
import type { UpstreamRouter } from './upstream/router.js';
import { Upstream } from './upstream/upstream.js';
import { UpstreamSet } from './upstream/upstream-set.js';

export interface AppOptions {
  log?: Logger;
  clock?: () => number;
  /** Reads the configuration again (the file it came from, the environment, the flags): enables reloadConfig(). */
  loadConfig?: () => Promise<Config>;
}

export interface Listening {
  http?: string;
  https?: string;
}

export type { ReloadResult } from './config-reload.js';

export interface App {
  /** The configuration in effect (after reloads). */
  readonly config: Config;
  readonly log: Logger;
  readonly router: UpstreamRouter;
  readonly cache: LocalCache;
  readonly services: MirrorServices;
  readonly metrics: Metrics;
  readonly http?: FastifyInstance;
  readonly https?: FastifyInstance;
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
  const log = options.log ?? createLogger(config.log.level);
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
  const cache = await openLocalCache(config, child('cache'), clock);
  await mkdir(cache.temp.dir, { recursive: true });
  const fills = new Fills(() => cache.temp.create(), config.cache.fillIdleTimeout, (err) => {
    if (!cache.gate.failed(err)) log.warn({ err }, 'blob fill failed');
  });
  const metrics = new Metrics({ totals: () => cache.index.totals(), fillsInFlight: () => fills.size });
  // Timeouts are read when an Upstream is built: a reload that changes them rebuilds every upstream.
  const upstreams = new UpstreamSet(config.upstreams, (u) => {
    const observer = metrics.upstream(u.name);
    const { connect, headers, idle } = config.timeouts;
    return new Upstream(u, {
      timeouts: { connect, headers, idle },
      ...(options.clock ? { clock: options.clock } : {}),
      userAgent: 'pullgate/0.1',
      observer,
      onRateLimit: (upstream, rateLimit) => {
        observer.rateLimited(rateLimit);
        upstreamLog.info({ upstream, ...rateLimit }, 'upstream rate limit');
      },
    });
  });
  const runEviction = () =>
    void cache
      .evict()
      .then((r) => r && metrics.evicted(r))
      .catch((err: unknown) => log.error({ err }, 'eviction failed'));
  const services: MirrorServices = {
    index: cache.index,
    store: cache.store,
    fills,
    access: new RepositoryAccess(cache.index, clock),
    caching: {
      allowed: () => cache.gate.allowed(),
      suspend: (reason) => cache.gate.suspend(reason),
      committed: () => {
        cache.gate.succeeded();
        runEviction();
      },
    },
    clock,
  };
  const registryLog = child('registry');
  const common = {
    router: () => upstreams.router,
    services,
    log: registryLog,
    keepAliveMs: config.timeouts.keepAlive,
    metrics,
    ...(config.publicUrl ? { publicUrl: config.publicUrl } : {}),
  };

  let certificates: CertificateStore | undefined;
  if (config.listen.https) {
    certificates = new CertificateStore(config.tls.certificates, child('tls'));
    await certificates.load();
  }
  const http = config.listen.http ? buildRegistryServer(common) : undefined;
  const https = certificates ? buildRegistryServer({ ...common, certificates }) : undefined;
  const servers = [http, https].filter((s): s is FastifyInstance => s !== undefined);
  const drain = new Drain();
  for (const server of servers) drain.track(server);

  const listenOne = async (app: FastifyInstance, address: string, scheme: string): Promise<string> => {
    const { host, port } = parseListenAddress(address);
    await app.listen({ host, port });
    const bound = app.server.address() as AddressInfo;
    const shownHost = bound.family === 'IPv6' ? `[${bound.address}]` : bound.address;
    return `${scheme}://${shownHost}:${bound.port}`;
  };

  let draining = false;
  const readiness = new Readiness({
    pingDatabase: () => cache.ping(),
    writableDirs: () => [config.dataDir, cache.temp.dir],
    unboundListeners: () => [
      ...(http && !http.server.listening ? ['http'] : []),
      ...(https && !https.server.listening ? ['https'] : []),
    ],
    draining: () => draining,
    clock,
  });

  let closing: Promise<void> | undefined;
  const close = async (): Promise<void> => {
    draining = true;
    const cut = await drain.stopAccepting(
      servers.filter((s) => s.server.listening).map((s) => s.server),
      config.shutdownGrace,
    );
    if (cut > 0) log.warn({ responses: cut, graceMs: config.shutdownGrace }, 'shutdown grace period over; cutting responses in progress');
    certificates?.close();
    await Promise.all(servers.map((s) => s.close()));
    await fills.abortAll();
    await upstreams.close();
    cache.close();
  };

  const app: App = {
    get config() {
      return config;
    },
    log,
    get router() {
      return upstreams.router;
    },
    cache,
    services,
    metrics,
    ...(http ? { http } : {}),
    ...(https ? { https } : {}),
    async listen() {
      const out: Listening = {};
      if (http && config.listen.http) out.http = await listenOne(http, config.listen.http, 'http');
      if (https && config.listen.https) {
        out.https = await listenOne(https, config.listen.https, 'https');
        certificates?.watch();
      }
      log.info({ ...out, upstreams: upstreams.list.map((u) => `${u.name}=${u.config.registry}`) }, 'pullgate listening');
      return out;
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
        upstreams,
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
  return app;
}
