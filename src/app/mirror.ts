// The mirror step: the services the registry handlers pull through (the cache's index, blobs and catalog, fills,
// repository access, the caching gate, fills from peers), with signature verdicts (docs/signatures.md) and the
// pull quota.
import { SignatureVerdicts } from '../cache/signature-verdicts.js';
import { RepositoryAccess } from '../mirror/repository-access.js';
import type { MirrorServices } from '../mirror/services.js';
import { SignatureGate } from '../mirror/signature-gate.js';
import type { Base } from './base.js';
import type { CacheWiring } from './cache.js';
import type { ClusterWiring } from './cluster.js';
import type { Figures } from './figures.js';
import type { Upstreams } from './upstreams.js';

export interface MirrorWiring {
  services: MirrorServices;
  verdicts: SignatureVerdicts;
  signatureGate: SignatureGate;
}

export function wireMirror(base: Base, parts: { cache: CacheWiring; figures: Figures; cluster: ClusterWiring; upstreams: Upstreams }): MirrorWiring {
  const { clock } = base;
  const { local, fills, fillRoom } = parts.cache;
  const { cluster } = parts.cluster;
  const verdicts = new SignatureVerdicts(local.db);
  const signatureGate = new SignatureGate(verdicts, clock, parts.figures.metrics);
  const services: MirrorServices = {
    index: local.index,
    store: local.store,
    catalog: local.catalog,
    fills,
    access: new RepositoryAccess(local.index, clock, local.catalog),
    caching: {
      allowed: () => local.gate.allowed(),
      suspend: (reason) => local.gate.suspend(reason),
      committed: () => {
        local.gate.succeeded();
        parts.figures.runEviction();
      },
      reserve: (bytes) => fillRoom.reserve(bytes),
    },
    clock,
    ...(cluster ? { cluster: cluster.fills } : {}),
    signatures: signatureGate,
    quota: parts.upstreams.quota,
  };
  return { services, verdicts, signatureGate };
}
