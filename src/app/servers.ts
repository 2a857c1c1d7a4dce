// The registry listeners step: plain HTTP and HTTPS (the same routes), the SNI router that owns the HTTPS port and
// hands the TLS server only the connections it should terminate (the others are passthrough pipes), the drain
// that lets responses finish at shutdown, and the circuit and passthrough figures for the metrics.
import type { FastifyInstance } from 'fastify';
import type { AccessInfo } from '../server/access-log.js';
import { Drain } from '../server/drain.js';
import { MirrorNames } from '../server/mirror-names.js';
import { buildRegistryServer } from '../server/registry-server.js';
import { SniRouter, type AdmitPassthrough } from '../server/sni-router.js';
import type { AccessWiring } from './access.js';
import type { Base } from './base.js';
import type { Figures } from './figures.js';
import type { MirrorWiring } from './mirror.js';
import type { TlsWiring } from './tls.js';
import type { Upstreams } from './upstreams.js';

/** Where each listener is bound once listening (filled by `listen()`). */
export interface Listening {
  http?: string;
  https?: string;
  admin?: string;
  /** The HTTP-01 challenge listener, with `tls.acme`. */
  acmeChallenges?: string;
  /** The internal endpoint for the other replicas, with `cluster`. */
  cluster?: string;
}

export interface RegistryServers {
  http?: FastifyInstance;
  https?: FastifyInstance;
  /** The HTTPS port's front door: passthrough pipes, their counters. */
  sni?: SniRouter;
  drain: Drain;
  /** The addresses bound so far: empty until `listen()`, read by the admin's setup page. */
  bound: Listening;
}

export interface ServerParts {
  figures: Figures;
  upstreams: Upstreams;
  access: AccessWiring;
  mirror: MirrorWiring;
  tls: TlsWiring;
  /** Who may use a TLS passthrough route (default: the address rules of `access`). */
  admitPassthrough?: AdmitPassthrough | undefined;
}

export function wireRegistryServers(base: Base, parts: ServerParts): RegistryServers {
  const config = base.config();
  const { router } = parts.upstreams;
  const { access } = parts.access;
  const { activity, metrics } = parts.figures;
  const { certificates } = parts.tls;
  const names = new MirrorNames({
    ...(config.publicUrl ? { publicUrl: config.publicUrl } : {}),
    upstreamHosts: () => router().hosts,
    ...(config.tls.acme ? { acmeHosts: config.tls.acme.hosts } : {}),
    ...(certificates ? { certificates } : {}),
  });
  const common = {
    router,
    services: parts.mirror.services,
    log: base.child('registry'),
    keepAliveMs: config.timeouts.keepAlive,
    access,
    metrics,
    clientIdleMs: config.access.clientIdleTimeout,
    names,
    onFinished: (info: AccessInfo, status: number, bytes: number, ms: number) => activity.accessFinished(info, status, bytes, ms),
  };
  const http = config.listen.http ? buildRegistryServer(common) : undefined;
  const https = certificates ? buildRegistryServer({ ...common, certificates }) : undefined;
  const drain = new Drain();
  for (const server of [http, https]) if (server) drain.track(server);
  const sni =
    https && certificates
      ? new SniRouter({
          routes: parts.tls.passthroughRoutes,
          terminate: (socket) => https.server.emit('connection', socket),
          servesName: (name) => certificates.serves(name),
          unknownSni: config.tls.unknownSni,
          helloTimeoutMs: config.tls.helloTimeout,
          connectTimeoutMs: config.timeouts.connect,
          idleTimeoutMs: config.access.clientIdleTimeout,
          // The address rules apply to passthrough routes too (tests may replace the check).
          admit: parts.admitPassthrough ?? ((peer) => access.admitsConnection(peer)),
          log: base.child('sni'),
          clock: base.clock,
        })
      : undefined;
  metrics.watch({
    circuits: () =>
      parts.upstreams.set.all().flatMap((u) => u.endpointViews().map((e) => ({ upstream: u.name, url: e.url, state: e.circuit, failures: e.failures }))),
    passthrough: () => sni?.stats(),
  });
  return { ...(http ? { http } : {}), ...(https ? { https } : {}), ...(sni ? { sni } : {}), drain, bound: {} };
}
