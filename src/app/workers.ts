// The workers step (docs/workers.md): with several worker processes, the admin lives in the lead worker and stores
// what it changes (upstreams, pins, passthrough routes) in the shared database; the lead announces each change and
// every other worker reads that state again; the lead announces the certificates it installs, and the others read
// them again.
import type { FastifyInstance } from 'fastify';
import { announceAdminChanges, onAdminChanges } from '../workers/admin-changes.js';
import { announceStoredCertificates } from '../workers/stored-certificates.js';
import type { Base } from './base.js';
import type { CacheWiring } from './cache.js';
import type { TlsWiring } from './tls.js';
import type { Upstreams } from './upstreams.js';

export function wireWorkers(base: Base, parts: { cache: CacheWiring; upstreams: Upstreams; tls: TlsWiring; admin: FastifyInstance | undefined }): void {
  if (!base.worker) return;
  if (parts.admin) announceAdminChanges(parts.admin, base.child('workers'));
  // The lead installs ACME certificates; the others read them again when it does (docs/workers.md).
  if (base.lead && parts.tls.acme && parts.tls.certificates) announceStoredCertificates(parts.tls.certificates);
  if (base.lead) return;
  onAdminChanges(() => {
    parts.upstreams.set.apply(parts.upstreams.sources.effective());
    parts.cache.local.policy.pins = parts.cache.pins.parsed();
    parts.tls.passthroughRoutes.replace(parts.tls.passthroughSources.routes());
  });
}
