// The TLS step: with an HTTPS listener, the certificates it serves and, with `tls.acme`, automatic ones; and the
// TLS passthrough routes (the config file's and the admin's), editable while the HTTPS port runs.
import { PassthroughSources } from '../server/passthrough-sources.js';
import { createAcme, type Acme } from '../acme/acme.js';
import { CertificateStore } from '../server/certificates.js';
import { SniRoutes } from '../server/sni-routes.js';
import { SharedAcmeChallenges } from '../workers/shared-acme-challenges.js';
import type { Base } from './base.js';
import type { CacheWiring } from './cache.js';
import type { Upstreams } from './upstreams.js';

export interface TlsWiring {
  certificates?: CertificateStore;
  acme?: Acme;
  passthroughSources: PassthroughSources;
  /** The routes the SNI router reads, replaced whenever the sources change. */
  passthroughRoutes: SniRoutes;
}

export async function wireTls(base: Base, parts: { cache: CacheWiring; upstreams: Upstreams }): Promise<TlsWiring> {
  const config = base.config();
  let certificates: CertificateStore | undefined;
  if (config.listen.https) {
    certificates = new CertificateStore(config.tls.certificates, base.child('tls'));
    await certificates.load();
    // With several workers, a TLS-ALPN-01 validation may land on any of them: the challenges are the machine's
    // (docs/workers.md).
    if (base.worker && config.tls.acme?.challenge === 'tls-alpn-01') certificates.acmeChallenges = new SharedAcmeChallenges(config.dataDir);
  }
  const acme = certificates && config.tls.acme
    ? await createAcme(config.tls.acme, config.dataDir, certificates, base.child('acme'), base.clock)
    : undefined;
  // Empty until the sources are made: then they fill it, and every later change replaces it.
  const passthroughRoutes = new SniRoutes();
  const passthroughSources = new PassthroughSources(
    parts.cache.local.db,
    config.tls.passthrough,
    () => new Set(parts.upstreams.set.all().flatMap((u) => u.config.hosts)),
    (routes) => passthroughRoutes.replace(routes),
    base.clock,
  );
  passthroughRoutes.replace(passthroughSources.routes());
  return {
    ...(certificates ? { certificates } : {}),
    ...(acme ? { acme } : {}),
    passthroughSources,
    passthroughRoutes,
  };
}
