// The parts a replica needs to share fills with its peers: leases in the bucket, the internal endpoint that
// streams this replica's fills, and the client that follows another replica's.
import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import { evictionByLease } from './eviction-lease.js';
import type { ClusterConfig } from '../config/cluster.js';
import type { EvictionTurn } from '../cache/eviction-turn.js';
import type { BlobStore } from '../cache/ports.js';
import { createS3Client } from '../cache/s3-client.js';
import type { StorageConfig } from '../config/storage.js';
import type { Fills } from '../mirror/fills.js';
import { ClusterFills } from './cluster-fills.js';
import { LeaseStore } from './leases.js';
import { PeerAuth } from './peer-auth.js';
import { PeerClient } from './peer-client.js';
import { PeerServer } from './peer-server.js';

export interface Cluster {
  /** This replica's name among its peers (its advertised host:port). */
  replica: string;
  /** The bucket's leases, or the workers' of one machine (src/workers/local-leases.ts). */
  leases: Pick<LeaseStore, 'claim' | 'hold' | 'ttlMs'>;
  fills: ClusterFills;
  server: PeerServer;
  /** Eviction by one replica at a time: it runs only while this replica holds the eviction lease. */
  evictionTurn: EvictionTurn;
  close(): Promise<void>;
}

export function createCluster(
  config: ClusterConfig,
  storage: StorageConfig,
  store: BlobStore,
  fills: Fills,
  timeouts: { connect: number; headers: number; idle: number },
  log: Logger,
): Cluster {
  // The config schema allows `cluster` only with S3 storage.
  if (storage.type !== 's3') throw new Error('cluster needs cache.storage.type s3');
  const replica = new URL(config.advertise).host;
  const client = createS3Client(storage, { connectMs: timeouts.connect, idleMs: timeouts.idle });
  const leases = new LeaseStore({
    client,
    bucket: storage.bucket,
    prefix: storage.prefix,
    ttlMs: config.leaseTtlMs,
    self: { owner: config.advertise, replica, incarnation: randomUUID() },
    log,
  });
  const auth = new PeerAuth(config.secret, config.advertise);
  const peers = new PeerClient({ auth, connectMs: Math.min(timeouts.connect, 5_000), headersMs: timeouts.headers, idleMs: timeouts.idle });
  const server = new PeerServer({ fills, auth, log });
  return {
    replica,
    leases,
    fills: new ClusterFills({ leases, peers, stat: (d) => store.stat(d), log }),
    server,
    evictionTurn: evictionByLease(leases, log, 'replica'),
    async close() {
      await server.close();
      await peers.close();
      client.destroy();
    },
  };
}
