// A worker of a replica (`workers` with `cluster`, docs/workers.md, "Workers of a replica"): the machine is one replica
// of the cluster, and its workers settle among themselves first. A fill goes through two layers of the same
// ClusterFills: the machine's (leases in workers.db, followers over loopback) and, for the one worker that holds the
// machine's lease, the bucket's (leases in the bucket, followers over the replica's endpoint). So the bucket sees one
// claimant per replica, the other replicas follow this machine through its one advertised endpoint (shared by the
// workers through node:cluster), and a worker there that does not hold the fill passes on the holder's stream.
import type { Logger } from 'pino';
import { NonceTable } from '../cache/nonce-table.js';
import type { BlobStore } from '../cache/ports.js';
import { createCluster, type Cluster } from '../cluster/cluster.js';
import { evictionByLease } from '../cluster/eviction-lease.js';
import { maxRememberedNonces } from '../cluster/peer-auth.js';
import type { PeerAnswer } from '../cluster/peer-client.js';
import type { ClusterConfig } from '../config/cluster.js';
import type { StorageConfig } from '../config/storage.js';
import type { Fills } from '../mirror/fills.js';
import { digestAlgorithm, digestHex, type Digest } from '../registry/digest.js';
import { ReplicaLeases } from './replica-leases.js';
import { createWorkerCluster, type WorkerCluster } from './worker-cluster.js';
import type { WorkerContext } from './worker-context.js';

export async function createReplicaWorkerCluster(
  worker: WorkerContext,
  config: ClusterConfig,
  storage: StorageConfig,
  dataDir: string,
  store: BlobStore,
  fills: Fills,
  timeouts: { connect: number; headers: number; idle: number },
  log: Logger,
): Promise<Cluster> {
  const machine = await createWorkerCluster(worker, dataDir, store, fills, timeouts, log);
  const nonces = new NonceTable(dataDir, maxRememberedNonces);
  const bucket = createCluster(config, storage, store, fills, timeouts, log, {
    replica: `${new URL(config.advertise).host}/worker-${worker.slot}`,
    relay: (digest) => relayFromMachine(machine, digest, log),
    nonces,
  });
  const leases = new ReplicaLeases(machine.leases, bucket.leases);
  return {
    replica: bucket.replica,
    leases,
    fills: {
      // The bucket is asked only by the worker that won the machine's lease (its `fromUpstream`).
      open: (digest, about, fromUpstream, mayFollow) =>
        machine.fills.open(digest, about, () => bucket.fills.open(digest, about, fromUpstream, mayFollow), mayFollow),
    },
    server: bucket.server,
    evictionTurn: evictionByLease(leases, log, 'replica'),
    fillsInFlight: machine.fillsInFlight,
    async close() {
      await bucket.close();
      await machine.close();
      nonces.close();
    },
  };
}

/**
 * A fill this worker does not have, for another replica: the stream of the worker of this machine that holds the
 * fill's lease. A holder that is gone is "unreachable" (the peer waits for the bucket's lease to be taken over); no
 * holder, or this worker itself (its fill just ended), is "not running".
 */
async function relayFromMachine(machine: WorkerCluster, digest: Digest, log: Logger): Promise<PeerAnswer> {
  const holder = machine.leases.holder(`fills/${digestAlgorithm(digest)}/${digestHex(digest)}`);
  if (!holder || holder.self) return { kind: 'not-running' };
  if (!holder.live) return { kind: 'unreachable', reason: `worker ${holder.record.replica} is gone` };
  log.debug({ digest, holder: holder.record.replica }, "passing on another worker's fill to a replica");
  return machine.peers.follow(holder.record.owner, digest);
}
