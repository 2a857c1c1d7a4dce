// The lifecycle step: listening (registry, admin, cluster endpoints, then the background work), readiness, config
// and certificate reloads, and the graceful stop: no new connections, responses in progress get `shutdownGrace`,
// then everything closes in the reverse order of its dependencies.
import type { AddressInfo } from 'node:net';
import type { FastifyInstance } from 'fastify';
import { reloadConfig, type ReloadResult } from '../config-reload.js';
import type { Config } from '../config/config.js';
import { parseListenAddress } from '../server/listen-address.js';
import { Readiness, type ReadinessReport } from '../server/readiness.js';
import { followStoredCertificates } from '../workers/stored-certificates.js';
import type { Base } from './base.js';
import type { CacheWiring } from './cache.js';
import type { ClusterWiring } from './cluster.js';
import type { Figures } from './figures.js';
import type { Listening, RegistryServers } from './servers.js';
import type { TlsWiring } from './tls.js';
import type { Upstreams } from './upstreams.js';
import type { WatchWiring } from './watch.js';

export interface Lifecycle {
  listen(): Promise<Listening>;
  ready(): Promise<ReadinessReport>;
  reloadCertificates(): Promise<void>;
  reloadConfig(): Promise<ReloadResult>;
  close(): Promise<void>;
}

export interface LifecycleParts {
  cache: CacheWiring;
  figures: Figures;
  cluster: ClusterWiring;
  upstreams: Upstreams;
  watch: WatchWiring;
  tls: TlsWiring;
  servers: RegistryServers;
  admin?: FastifyInstance | undefined;
  /** Reads the configuration again (the file it came from, the environment, the flags): enables reloadConfig(). */
  loadConfig?: (() => Promise<Config>) | undefined;
}

export function wireLifecycle(base: Base, parts: LifecycleParts): Lifecycle {
  const { certificates } = parts.tls;
  let draining = false;
  const readiness = readinessOf(base, parts, () => draining);
  let closing: Promise<void> | undefined;
  return {
    listen: () => listenAll(base, parts),
    ready: () => readiness.check(),
    async reloadCertificates() {
      await certificates?.reload();
    },
    reloadConfig: () =>
      reloadConfig({
        log: base.log,
        loggers: base.loggers,
        ...(parts.loadConfig ? { load: parts.loadConfig } : {}),
        running: () => base.config(),
        adopt: (next) => base.adopt(next),
        fileUpstreams: (next, rebuild) => parts.upstreams.sources.setFileUpstreams(next, rebuild),
        upstreams: parts.upstreams.set,
        pins: (next) => parts.cache.pins.setFromConfig(next),
        cache: parts.cache.local,
        evict: parts.figures.runEviction,
        reloadCertificates: async () => certificates?.reload(),
      }),
    close() {
      draining = true;
      closing ??= closeAll(base, parts);
      return closing;
    },
  };
}

function readinessOf(base: Base, parts: LifecycleParts, draining: () => boolean): Readiness {
  const { local } = parts.cache;
  const { http, sni } = parts.servers;
  const { admin } = parts;
  const { cluster } = parts.cluster;
  return new Readiness({
    pingDatabase: () => local.ping(),
    writableDirs: () => [base.config().dataDir, local.temp.dir],
    unboundListeners: () => [
      ...(http && !http.server.listening ? ['http'] : []),
      ...(sni && !sni.server.listening ? ['https'] : []),
      ...(admin && !admin.server.listening ? ['admin'] : []),
      ...(cluster && !cluster.server.server.listening ? ['cluster'] : []),
    ],
    draining,
    clock: base.clock,
    changed: (report) =>
      report.ready ? base.log.info({ checks: report.checks }, 'ready') : base.log.warn({ checks: report.checks }, 'not ready'),
  });
}

const shown = (bound: AddressInfo, scheme: string): string =>
  `${scheme}://${bound.family === 'IPv6' ? `[${bound.address}]` : bound.address}:${bound.port}`;

async function listenOne(app: FastifyInstance, address: string, scheme: string): Promise<string> {
  const { host, port } = parseListenAddress(address);
  await app.listen({ host, port });
  return shown(app.server.address() as AddressInfo, scheme);
}

async function listenAll(base: Base, parts: LifecycleParts): Promise<Listening> {
  const config = base.config();
  const { http, https, sni, bound: out } = parts.servers;
  const { admin } = parts;
  const { cluster, sharedView } = parts.cluster;
  if (http && config.listen.http) out.http = await listenOne(http, config.listen.http, 'http');
  if (https && sni && config.listen.https) {
    const { host, port } = parseListenAddress(config.listen.https);
    await https.ready();
    out.https = shown(await sni.listen(host, port), 'https');
    parts.tls.certificates?.watch();
  }
  if (admin && config.listen.admin) out.admin = await listenOne(admin, config.listen.admin, 'http');
  if (cluster && config.cluster) out.cluster = shown(await cluster.server.listen(config.cluster.listen), 'http');
  // The work done once per machine runs in the lead worker; the others read what it stores (docs/workers.md).
  if (base.lead) {
    await sharedView?.start();
    parts.watch.watch.scheduler.start();
    parts.watch.housekeeping.start();
  }
  const acmeChallenges = base.lead ? await parts.tls.acme?.start() : parts.tls.acme && followStoredCertificates(parts.tls.acme, base.child('acme'));
  if (acmeChallenges) out.acmeChallenges = acmeChallenges;
  base.log.info({ ...out, upstreams: parts.upstreams.set.all().map((u) => `${u.name}=${u.config.registry}`) }, 'pullgate listening');
  return { ...out };
}

async function closeAll(base: Base, parts: LifecycleParts): Promise<void> {
  const { shutdownGrace } = base.config();
  const { http, https, sni, drain } = parts.servers;
  const listening = [...(http?.server.listening ? [http.server] : []), ...(sni?.server.listening ? [sni.server] : [])];
  const cut = await drain.stopAccepting(listening, shutdownGrace);
  if (cut > 0) base.log.warn({ responses: cut, graceMs: shutdownGrace }, 'shutdown grace period over; cutting responses in progress');
  parts.tls.certificates?.close();
  await parts.tls.acme?.close();
  parts.watch.prefetcher.close();
  parts.watch.watch.close();
  parts.watch.housekeeping.stop();
  await sni?.close();
  await Promise.all([http?.close(), https?.close(), parts.admin?.close()]);
  await parts.cache.fills.abortAll();
  await parts.cluster.cluster?.close();
  // Only the lead worker beats for the machine; another's stop would delete its heartbeat (docs/workers.md).
  if (base.lead) await parts.cluster.sharedView?.stop();
  await parts.cache.local.catalog.close();
  await parts.upstreams.set.close();
  parts.figures.traffic.close();
  parts.cache.local.close();
}
