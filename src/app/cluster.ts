// The cluster step: with `cluster`, the peer endpoint, leases and fills
// from peers, and eviction by one replica at a time; with a bucket, the view shared with the other replicas
// (heartbeats with this replica's figures, the catalog kept in sync).
import type { Cluster } from '../cluster/cluster.js';
import { createSharedView, type SharedView } from '../catalog/shared-view.js';
import { createWorkerCluster } from '../workers/worker-cluster.js';
import type { Base } from './base.js';
import type { CacheWiring } from './cache.js';
import type { Figures } from './figures.js';

export interface ClusterWiring {
  cluster?: Cluster;
  sharedView?: SharedView;
}

export async function wireCluster(base: Base, parts: { cache: CacheWiring; figures: Figures }): Promise<ClusterWiring> {
  const config = base.config();
  const { local, fills } = parts.cache;
  // Loaded only for a cluster (its leases live in a bucket: the AWS SDK).
  // Several workers of one machine share fills as replicas do, with leases in the data directory (docs/workers.md).
  // With both, the machine is one replica whose workers settle among themselves first (docs/workers.md, "Workers of a replica").
  const cluster = config.cluster
    ? base.worker
      ? await (await import('../workers/replica-worker-cluster.js')).createReplicaWorkerCluster(base.worker, config.cluster, config.cache.storage, config.dataDir, local.store, fills, config.timeouts, base.child('cluster'))
      : (await import('../cluster/cluster.js')).createCluster(config.cluster, config.cache.storage, local.store, fills, config.timeouts, base.child('cluster'))
    : base.worker
      ? await createWorkerCluster(base.worker, config.dataDir, local.store, fills, config.timeouts, base.child('workers'))
      : undefined;
  if (cluster) local.setEvictionTurn(cluster.evictionTurn);
  const sharedView = local.bucket
    ? createSharedView({
        config,
        bucket: local.bucket,
        catalog: local.catalog,
        figures: () => {
          const { bytesServed, bytesFetched, hits, misses } = parts.figures.traffic.totals().overall;
          // Traffic totals are the machine's (shared rows); so are its fills with several workers.
          return { bytesServed, bytesFetched, hits, misses, fillsInFlight: cluster?.fillsInFlight?.() ?? fills.size };
        },
        log: base.child('catalog'),
        clock: base.clock,
      })
    : undefined;
  return { ...(cluster ? { cluster } : {}), ...(sharedView ? { sharedView } : {}) };
}
