// The composition root: one wiring step after another, each taking the results of earlier steps and returning
// its own typed parts (see each step's file). Building does not listen, so tests can inject or listen on port 0.
import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import type { Acme } from '../acme/acme.js';
import type { UpstreamSources } from '../upstream/upstream-sources.js';
import type { LocalCache } from '../catalog/local-cache.js';
import type { Config } from '../config/config.js';
import type { ReloadResult } from '../config-reload.js';
import type { Metrics } from '../metrics/metrics.js';
import type { MirrorServices } from '../mirror/services.js';
import { registerOperationsRoutes } from '../server/operations-routes.js';
import type { ReadinessReport } from '../server/readiness.js';
import type { AdmitPassthrough, SniRouter } from '../server/sni-router.js';
import type { SniRoutes } from '../server/sni-routes.js';
import type { UpstreamRouter } from '../upstream/router.js';
import type { UpstreamSet } from '../upstream/upstream-set.js';
import type { Timer } from '../watch/watch-scheduler.js';
import type { Watch } from '../watch/watch-service.js';
import type { IndexHousekeeping } from '../cache/index-housekeeping.js';
import { wireAccess } from './access.js';
import { wireAdmin } from './admin.js';
import { wireBase } from './base.js';
import { wireCache } from './cache.js';
import { wireCluster } from './cluster.js';
import { wireFigures } from './figures.js';
import { wireLifecycle } from './lifecycle.js';
import { wireMirror } from './mirror.js';
import { wireRegistryServers, type Listening } from './servers.js';
import { wireTls } from './tls.js';
import { wireUpstreams } from './upstreams.js';
import { wireWatch } from './watch.js';
import { wireWorkers } from './workers.js';
import type { WorkerContext } from '../workers/worker-context.js';

export interface AppOptions {
  log?: Logger;
  clock?: () => number;
  /** The admin password (tests); else PULLGATE_ADMIN_PASSWORD, admin.passwordFile, the stored one, or generated. */
  adminPassword?: string;
  /** Where the admin serves the web UI from (tests); default web/dist of this installation. */
  webDir?: string;
  /** Who may use a TLS passthrough route (default: everyone the address rules admit). */
  admitPassthrough?: AdmitPassthrough;
  /** Reads the configuration again (the file it came from, the environment, the flags): enables reloadConfig(). */
  loadConfig?: () => Promise<Config>;
  /** The watch scheduler's timer (tests drive it with their clock instead). */
  watchTimer?: Timer;
  /** One of several worker processes of this machine (docs/workers.md); absent in a server of one process. */
  worker?: WorkerContext;
}

export type { ReloadResult } from '../config-reload.js';
export type { Listening } from './servers.js';

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
  /** Prunes signature verdicts and watch history nothing reads again (runs on a timer once listening). */
  readonly housekeeping: IndexHousekeeping;
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
  const base = await wireBase(initialConfig, options);
  const cache = await wireCache(base);
  const figures = wireFigures(base, { cache });
  const cluster = await wireCluster(base, { cache, figures });
  const upstreams = await wireUpstreams(base, { cache, figures });
  const access = wireAccess(base, { cache });
  const mirror = wireMirror(base, { cache, figures, cluster, upstreams });
  const watch = wireWatch(base, { cache, figures, cluster, upstreams, mirror, timer: options.watchTimer });
  const tls = await wireTls(base, { cache, upstreams });
  const servers = wireRegistryServers(base, { figures, upstreams, access, mirror, tls, admitPassthrough: options.admitPassthrough });
  const admin = await wireAdmin(base, { cache, figures, cluster, upstreams, access, mirror, watch, tls, servers, password: options.adminPassword, webDir: options.webDir });
  wireWorkers(base, { cache, upstreams, tls, admin });
  const lifecycle = wireLifecycle(base, { cache, figures, cluster, upstreams, watch, tls, servers, admin, loadConfig: options.loadConfig });
  const app: App = {
    get config() {
      return base.config();
    },
    log: base.log,
    router: upstreams.router,
    upstreams: upstreams.set,
    sources: upstreams.sources,
    cache: cache.local,
    services: mirror.services,
    metrics: figures.metrics,
    watch: watch.watch,
    housekeeping: watch.housekeeping,
    ...(servers.http ? { http: servers.http } : {}),
    ...(servers.https ? { https: servers.https } : {}),
    ...(admin ? { admin } : {}),
    passthroughRoutes: tls.passthroughRoutes,
    ...(servers.sni ? { sni: servers.sni } : {}),
    ...(tls.acme ? { acme: tls.acme } : {}),
    ...lifecycle,
  };
  // The probes on every listener; `/metrics` and the reasons of failing checks only on the admin's.
  for (const server of [servers.http, servers.https]) if (server) registerOperationsRoutes(server, app, { operator: false });
  if (admin) registerOperationsRoutes(admin, app, { operator: true });
  return app;
}
