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
import type { ClusterFillSource } from '../mirror/cluster-fill-source.js';
import type { Fills } from '../mirror/fills.js';
import { ClusterFills } from './cluster-fills.js';
import { LeaseStore } from './leases.js';
import { PeerAuth, type NonceMemory } from './peer-auth.js';
import { PeerClient } from './peer-client.js';
import { PeerServer, type PeerServerOptions } from './peer-server.js';

export interface Cluster {
  /** This replica's name among its peers (its advertised host:port). */
  replica: string;
  /** The bucket's leases, or the workers' of one machine (src/workers/local-leases.ts). */
  leases: Pick<LeaseStore, 'claim' | 'hold' | 'ttlMs'>;
  fills: ClusterFillSource;
  server: PeerServer;
  /** Eviction by one replica at a time: it runs only while this replica holds the eviction lease. */
  evictionTurn: EvictionTurn;
  /** The fills in flight on this machine when several workers share it (its heartbeat's figure); else the mirror's. */
  fillsInFlight?: () => number;
  close(): Promise<void>;
}

/** How one of a replica's workers takes part (docs/workers.md, "Workers of a replica"); absent for one process. */
export interface ReplicaPart {
  /** This worker's name in the lease records (logs, the admin). */
  replica: string;
  /** Where the replica's endpoint gets a fill that another worker of the replica holds. */
  relay: NonNullable<PeerServerOptions['relay']>;
  /** The nonces the replica's endpoint has accepted, shared by its workers. */
  nonces: NonceMemory;
}

export function createCluster(
  config: ClusterConfig,
  storage: StorageConfig,
  store: BlobStore,
  fills: Fills,
  timeouts: { connect: number; headers: number; idle: number },
  log: Logger,
  part?: ReplicaPart,
): Cluster & { fills: ClusterFills; leases: LeaseStore } {
  // The config schema allows `cluster` only with S3 storage.
  if (storage.type !== 's3') throw new Error('cluster needs cache.storage.type s3');
  const replica = part?.replica ?? new URL(config.advertise).host;
  const client = createS3Client(storage, { connectMs: timeouts.connect, idleMs: timeouts.idle });
  const leases = new LeaseStore({
    client,
    bucket: storage.bucket,
    prefix: storage.prefix,
    ttlMs: config.leaseTtlMs,
    self: { owner: config.advertise, replica, incarnation: randomUUID() },
    log,
  });
  const auth = new PeerAuth(config.secret, config.advertise, undefined, part?.nonces);
  const peers = new PeerClient({ auth, connectMs: Math.min(timeouts.connect, 5_000), headersMs: timeouts.headers, idleMs: timeouts.idle });
  const server = new PeerServer({ fills, auth, log, ...(part ? { relay: part.relay } : {}) });
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
