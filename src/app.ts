// The composition root: config -> logger -> upstreams -> router -> registry listeners. Building does not
// listen, so tests can inject or listen on port 0.
import { mkdir } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import type { Config } from './config/config.js';
import { createAcme, type Acme } from './acme/acme.js';
import { openLocalCache, type LocalCache } from './cache/local-cache.js';
import { createLogger } from './logger.js';
import { Fills } from './mirror/fills.js';
import { RepositoryAccess } from './mirror/repository-access.js';
import type { MirrorServices } from './mirror/services.js';
import { CertificateStore } from './server/certificates.js';
import { parseListenAddress } from './server/listen-address.js';
import { buildRegistryServer } from './server/registry-server.js';
import { UpstreamRouter } from './upstream/router.js';
import { Upstream } from './upstream/upstream.js';

export interface AppOptions {
  log?: Logger;
  clock?: () => number;
}

export interface Listening {
  http?: string;
  https?: string;
  /** The HTTP-01 challenge listener, with `tls.acme`. */
  acmeChallenges?: string;
}

export interface App {
  readonly config: Config;
  readonly log: Logger;
  readonly router: UpstreamRouter;
  readonly cache: LocalCache;
  readonly services: MirrorServices;
  readonly http?: FastifyInstance;
  readonly https?: FastifyInstance;
  /** Automatic certificates, when `tls.acme` is configured. */
  readonly acme?: Acme;
  listen(): Promise<Listening>;
  reloadCertificates(): Promise<void>;
  close(): Promise<void>;
}

export async function createApp(config: Config, options: AppOptions = {}): Promise<App> {
  const log = options.log ?? createLogger(config.log.level);
  await mkdir(config.dataDir, { recursive: true });
  const timeouts = { connect: config.timeouts.connect, headers: config.timeouts.headers, idle: config.timeouts.idle };
  const upstreamLog = log.child({ component: 'upstream' });
  const upstreams = config.upstreams.map(
    (u) =>
      new Upstream(u, {
        timeouts,
        ...(options.clock ? { clock: options.clock } : {}),
        userAgent: 'pullgate/0.1',
        onRateLimit: (upstream, rateLimit) => upstreamLog.info({ upstream, ...rateLimit }, 'upstream rate limit'),
      }),
  );
  const router = new UpstreamRouter(upstreams);
  const clock = options.clock ?? Date.now;
  const cache = await openLocalCache(config, log.child({ component: 'cache' }), clock);
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
  const registryLog = log.child({ component: 'registry' });
  const common = { router: () => router, services, log: registryLog, keepAliveMs: config.timeouts.keepAlive, ...(config.publicUrl ? { publicUrl: config.publicUrl } : {}) };

  let certificates: CertificateStore | undefined;
  if (config.listen.https) {
    certificates = new CertificateStore(config.tls.certificates, log.child({ component: 'tls' }));
    await certificates.load();
  }
  const acme = certificates && config.tls.acme
    ? await createAcme(config.tls.acme, config.dataDir, certificates, log.child({ component: 'acme' }), clock)
    : undefined;
  const http = config.listen.http ? buildRegistryServer(common) : undefined;
  const https = certificates ? buildRegistryServer({ ...common, certificates }) : undefined;

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
    cache,
    services,
    ...(http ? { http } : {}),
    ...(https ? { https } : {}),
    ...(acme ? { acme } : {}),
    async listen() {
      const out: Listening = {};
      if (http && config.listen.http) out.http = await listenOne(http, config.listen.http, 'http');
      if (https && config.listen.https) {
        out.https = await listenOne(https, config.listen.https, 'https');
        certificates?.watch();
      }
      const acmeChallenges = await acme?.start();
      if (acmeChallenges) out.acmeChallenges = acmeChallenges;
      log.info({ ...out, upstreams: upstreams.map((u) => `${u.name}=${u.config.registry}`) }, 'pullgate listening');
      return out;
    },
    async reloadCertificates() {
      await certificates?.reload();
    },
    async close() {
      if (closed) return;
      closed = true;
      certificates?.close();
      await acme?.close();
      await Promise.all([http?.close(), https?.close()]);
      await fills.abortAll();
      await Promise.all(upstreams.map((u) => u.close()));
      cache.close();
    },
  };
}
