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
import { buildAdminServer } from './admin/admin-server.js';
import { CacheBrowser } from './admin/cache-browser.js';
import { Prefetcher } from './admin/prefetch.js';
import { SecretBox } from './admin/secret-box.js';
import { Traffic } from './admin/traffic.js';
import { UpstreamSources } from './admin/upstream-sources.js';
import { openLocalCache, type LocalCache } from './cache/local-cache.js';
import type { UpstreamConfig } from './config/config.js';
import { createLogger } from './logger.js';
import { Fills } from './mirror/fills.js';
import { RepositoryAccess } from './mirror/repository-access.js';
import type { MirrorServices } from './mirror/services.js';
import { CertificateStore } from './server/certificates.js';
import { parseListenAddress } from './server/listen-address.js';
import type { AccessInfo } from './server/access-log.js';
import { buildRegistryServer } from './server/registry-server.js';
import type { UpstreamRouter } from './upstream/router.js';
import { UpstreamSet } from './upstream/upstream-set.js';
import { Upstream } from './upstream/upstream.js';

export interface AppOptions {
  log?: Logger;
  clock?: () => number;
  /** The admin password (tests); else PULLGATE_ADMIN_PASSWORD, admin.passwordFile, the stored one, or generated. */
  adminPassword?: string;
  /** Where the admin serves the web UI from (tests); default web/dist of this installation. */
  webDir?: string;
}

export interface Listening {
  http?: string;
  https?: string;
  admin?: string;
}

export interface App {
  readonly config: Config;
  readonly log: Logger;
  /** The router for the next request (upstreams change live through the admin). */
  router(): UpstreamRouter;
  readonly upstreams: UpstreamSet;
  readonly sources: UpstreamSources;
  readonly cache: LocalCache;
  readonly services: MirrorServices;
  readonly http?: FastifyInstance;
  readonly https?: FastifyInstance;
  readonly admin?: FastifyInstance;
  listen(): Promise<Listening>;
  reloadCertificates(): Promise<void>;
  close(): Promise<void>;
}

export async function createApp(config: Config, options: AppOptions = {}): Promise<App> {
  const log = options.log ?? createLogger(config.log.level);
  await mkdir(config.dataDir, { recursive: true });
  const timeouts = { connect: config.timeouts.connect, headers: config.timeouts.headers, idle: config.timeouts.idle };
  const upstreamLog = log.child({ component: 'upstream' });
  const makeUpstream = (u: UpstreamConfig): Upstream =>
    new Upstream(u, {
      timeouts,
      ...(options.clock ? { clock: options.clock } : {}),
      userAgent: 'pullgate/0.1',
      onRateLimit: (upstream, rateLimit) => upstreamLog.info({ upstream, ...rateLimit }, 'upstream rate limit'),
      onFailure: (upstream, url, message) => upstreamLog.warn({ upstream, url, reason: message }, 'upstream request failed'),
      onCircuit: (upstream, url, change) =>
        upstreamLog[change.to === 'open' ? 'warn' : 'info']({ upstream, url, circuit: change.to, from: change.from, failures: change.failures, reason: change.reason }, 'upstream circuit'),
    });
  const clock = options.clock ?? Date.now;
  const cache = await openLocalCache(config, log.child({ component: 'cache' }), clock);
  // Upstreams: the config file's, plus those added through the admin (stored in the cache database), applied live.
  const secrets = await SecretBox.open(config.dataDir);
  const sources = new UpstreamSources(cache.db, secrets, config, (effective) => liveUpstreams.apply(effective), clock);
  const liveUpstreams = new UpstreamSet(makeUpstream, await sources.start());
  const router = (): UpstreamRouter => liveUpstreams.router();
  const pins = new AdminPins(cache.db, config.cache.pins, (all) => {
    cache.policy.pins = all;
  }, clock);
  cache.policy.pins = pins.parsed();
  const traffic = new Traffic(cache.db, clock);
  const fills = new Fills(() => cache.temp.create(), config.cache.fillIdleTimeout, (err) => {
    if (!cache.gate.failed(err)) log.warn({ err }, 'blob fill failed');
  });
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
        void cache.evict().catch((err: unknown) => log.error({ err }, 'eviction failed'));
      },
    },
    clock,
  };
  const activity = new Activity(fills, traffic, clock);
  const registryLog = log.child({ component: 'registry' });
  const common = {
    router,
    services,
    log: registryLog,
    keepAliveMs: config.timeouts.keepAlive,
    ...(config.publicUrl ? { publicUrl: config.publicUrl } : {}),
    onFinished: (info: AccessInfo, status: number, bytes: number, ms: number) =>
      activity.requestFinished({
        at: clock(),
        method: info.method,
        ...(info.upstream ? { upstream: info.upstream } : {}),
        ...(info.repository ? { repository: info.repository } : {}),
        ...(info.kind ? { kind: info.kind } : {}),
        ...(info.reference ? { reference: info.reference } : {}),
        status,
        bytes,
        ms: Math.round(ms),
        client: info.client ?? '',
        pull: info.pull,
        ...(info.totalSize !== undefined ? { totalSize: info.totalSize } : {}),
      }),
  };

  let certificates: CertificateStore | undefined;
  if (config.listen.https) {
    certificates = new CertificateStore(config.tls.certificates, log.child({ component: 'tls' }));
    await certificates.load();
  }
  const http = config.listen.http ? buildRegistryServer(common) : undefined;
  const https = certificates ? buildRegistryServer({ ...common, certificates }) : undefined;
  const prefetcher = new Prefetcher(services, router, traffic, log.child({ component: 'prefetch' }), clock);
  const bound: Listening = {};

  let admin: FastifyInstance | undefined;
  if (config.listen.admin) {
    const adminLog = log.child({ component: 'admin' });
    const password = options.adminPassword ?? process.env.PULLGATE_ADMIN_PASSWORD ?? (config.admin.passwordFile ? await readPasswordFile(config.admin.passwordFile) : undefined);
    const auth = new AdminAuth(cache.db, adminLog, { ...(password !== undefined ? { password } : {}), sessionTtlMs: config.admin.sessionTtlMs, clock });
    await auth.init();
    admin = await buildAdminServer(
      {
        config,
        log: adminLog,
        auth,
        sources,
        upstreams: liveUpstreams,
        makeUpstream,
        cache,
        browser: new CacheBrowser(cache.db, () => cache.policy.pins),
        pins,
        traffic,
        activity,
        prefetcher,
        registryAddresses: () => bound,
      },
      options.webDir ? { webDir: options.webDir } : {},
    );
  }

  const listenOne = async (app: FastifyInstance, address: string, scheme: string): Promise<string> => {
    const { host, port } = parseListenAddress(address);
    await app.listen({ host, port });
    const bound = app.server.address() as AddressInfo;
    const shownHost = bound.family === 'IPv6' ? `[${bound.address}]` : bound.address;
    return `${scheme}://${shownHost}:${bound.port}`;
  };

  let closed = false;
  return {
    config,
    log,
    router,
    upstreams: liveUpstreams,
    sources,
    cache,
    services,
    ...(http ? { http } : {}),
    ...(https ? { https } : {}),
    ...(admin ? { admin } : {}),
    async listen() {
      const out = bound;
      if (http && config.listen.http) out.http = await listenOne(http, config.listen.http, 'http');
      if (https && config.listen.https) {
        out.https = await listenOne(https, config.listen.https, 'https');
        certificates?.watch();
      }
      if (admin && config.listen.admin) out.admin = await listenOne(admin, config.listen.admin, 'http');
      log.info({ ...out, upstreams: liveUpstreams.all().map((u) => `${u.name}=${u.config.registry}`) }, 'pullgate listening');
      return { ...out };
    },
    async reloadCertificates() {
      await certificates?.reload();
    },
    async close() {
      if (closed) return;
      closed = true;
      certificates?.close();
      prefetcher.close();
      await Promise.all([http?.close(), https?.close(), admin?.close()]);
      await fills.abortAll();
      await liveUpstreams.close();
      traffic.close();
      cache.close();
    },
  };
}

async function readPasswordFile(path: string): Promise<string> {
  return (await readFile(path, 'utf8')).replace(/\r?\n$/, '');
}
