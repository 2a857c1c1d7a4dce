// The replica design, within one machine (docs/workers.md): every worker is a replica whose leases live in a
// SQLite file of the data directory (local-leases.ts) and whose internal endpoint listens on loopback only. A
// worker that loses a blob's fill lease streams the holder's growing fill from that endpoint, exactly as a replica
// follows another; eviction runs while a worker holds the eviction lease.
import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import { evictionByLease } from '../cluster/eviction-lease.js';
import type { BlobStore } from '../cache/ports.js';
import type { Cluster } from '../cluster/cluster.js';
import { ClusterFills } from '../cluster/cluster-fills.js';
import { PeerAuth } from '../cluster/peer-auth.js';
import { PeerClient } from '../cluster/peer-client.js';
import { PeerServer } from '../cluster/peer-server.js';
import type { Fills } from '../mirror/fills.js';
import { LocalLeases } from './local-leases.js';
import type { WorkerContext } from './worker-context.js';

/** Own port for each worker (exclusive): a shared listener would hand a follower's request to any worker. */
async function listenLoopback(server: PeerServer): Promise<AddressInfo> {
  await new Promise<void>((resolve, reject) => {
    server.server.once('error', reject);
    server.server.listen({ host: '127.0.0.1', port: 0, exclusive: true }, () => {
      server.server.off('error', reject);
      resolve();
    });
  });
  return server.server.address() as AddressInfo;
}

/** A worker's part of the machine: the Cluster the mirror uses, and what a replica's worker builds on (replica-worker-cluster.ts). */
export interface WorkerCluster extends Cluster {
  leases: LocalLeases;
  fills: ClusterFills;
  /** Follows another worker's fill (signed with the machine's secret). */
  peers: PeerClient;
  fillsInFlight: () => number;
}

export async function createWorkerCluster(
  worker: WorkerContext,
  dataDir: string,
  store: BlobStore,
  fills: Fills,
  timeouts: { connect: number; headers: number; idle: number },
  log: Logger,
): Promise<WorkerCluster> {
  // The endpoint's address is the lease's owner, so it listens before anything is claimed; PeerAuth checks the
  // audience, which is known once bound: the server gets its verifier then.
  let auth: PeerAuth | undefined;
  const server = new PeerServer({ fills, auth: { verify: (method, path, header) => auth?.verify(method, path, header) ?? false }, log });
  const bound = await listenLoopback(server);
  const owner = `http://127.0.0.1:${bound.port}`;
  auth = new PeerAuth(worker.secret, owner);
  const replica = `worker-${worker.slot}/${process.pid}`;
  const leases = new LocalLeases({ dataDir, ttlMs: worker.leaseTtlMs, self: { owner, replica }, log });
  const peers = new PeerClient({ auth, connectMs: Math.min(timeouts.connect, 2_000), headersMs: timeouts.headers, idleMs: timeouts.idle });
  return {
    replica,
    leases,
    fills: new ClusterFills({ leases, peers, stat: (d) => store.stat(d), log }),
    peers,
    server,
    evictionTurn: evictionByLease(leases, log, 'worker'),
    fillsInFlight: () => leases.count('fills/'),
    async close() {
      await server.close();
      await peers.close();
      leases.close();
    },
  };
}
