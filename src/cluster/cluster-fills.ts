// One upstream fetch per blob for the whole cluster (docs/storage.md, "One fetch per cluster"): before a replica
// fetches a blob it claims the blob's fill lease in the bucket. The winner fetches from upstream (renewing the lease)
// and releases it when the fill is over; a loser streams the winner's growing fill over the internal endpoint, so its
// own clients and local followers get bytes as they arrive. A winner that dies stops answering: its lease expires and a
// loser takes the fill over. Nothing here ever writes the blob: only a fill that verified the digest commits it.
import { unlink } from 'node:fs/promises';
import type { Logger } from 'pino';
import { digestAlgorithm, digestHex, type Digest } from '../registry/digest.js';
import type { FillSource } from '../mirror/fills.js';
import { chunkSourceOf } from '../upstream/chunk-source.js';
import { StoredMeanwhile, type ClusterFillSource, type ClusterSource } from '../mirror/cluster-fill-source.js';
import type { LeaseRecord, LeaseStore } from './leases.js';
import type { PeerClient } from './peer-client.js';

export interface ClusterFillsOptions {
  /** The bucket's leases, or the workers' of one machine (src/workers/local-leases.ts); `self` names this process. */
  leases: Pick<LeaseStore, 'hold' | 'ttlMs' | 'self'>;
  peers: PeerClient;
  /** Size of a committed blob in the shared store. */
  stat: (digest: Digest) => Promise<number | undefined>;
  log: Logger;
  clock?: () => number;
  sleep?: (ms: number) => Promise<void>;
}

const pollMs = 500;

export class ClusterFills implements ClusterFillSource {
  private readonly clock: () => number;
  private readonly sleep: (ms: number) => Promise<void>;
  /** Releases of this process's fill leases still on their way (a round trip to the bucket), by lease name. */
  private readonly releasing = new Map<string, Promise<void>>();

  constructor(private readonly o: ClusterFillsOptions) {
    this.clock = o.clock ?? Date.now;
    this.sleep = o.sleep ?? ((ms) => new Promise((r) => setTimeout(r, ms)));
  }

  /**
   * The bytes for this replica's fill of `digest`: from upstream when the lease is won, else from the holder.
   * `mayFollow` checks that this request may have the blob before a peer's bytes are used (repository access), once
   * per holder: a lease taken over by another replica, or taken again for another repository, is checked again.
   */
  async open(
    digest: Digest,
    about: { upstream: string; repository: string },
    fromUpstream: () => Promise<FillSource>,
    mayFollow: (holder: LeaseRecord) => Promise<void>,
  ): Promise<ClusterSource> {
    const name = `fills/${digestAlgorithm(digest)}/${digestHex(digest)}`;
    let unreachableSince: number | undefined;
    let confirmedFor: string | undefined;
    for (;;) {
      const held = await this.o.leases.hold(name, about);
      if (held.won) {
        try {
          const source = await fromUpstream();
          // A source from another layer (the workers of a replica: docs/workers.md) may have its own lease to release.
          return {
            ...source,
            settled: () => {
              source.settled?.();
              this.release(name, held.release);
            },
          };
        } catch (err) {
          await held.release();
          throw err;
        }
      }
      const holder = held.holder;
      if (this.isSelf(holder)) {
        // This process holds the lease: a fill of its own that just failed or ended is releasing it. Following itself
        // would make this fill wait on its own endpoint for itself until the headers timeout; it waits for that release
        // (or, when the release failed, for the lease's expiry) and claims again (docs/storage.md, "One fetch per
        // cluster").
        await (this.releasing.get(name) ?? this.sleep(Math.max(10, Math.min(pollMs, holder.expiresAt - this.clock() + 10))));
        if ((await this.o.stat(digest)) !== undefined) throw new StoredMeanwhile(`${digest} was stored by this replica`);
        continue;
      }
      const holding = JSON.stringify([holder.owner, holder.replica, holder.incarnation ?? '', holder.about ?? {}]);
      if (confirmedFor !== holding) {
        await mayFollow(holder);
        confirmedFor = holding;
      }
      const answer = await this.o.peers.follow(holder.owner, digest);
      if (answer.kind === 'streaming') {
        return {
          size: answer.size,
          body: chunkSourceOf(answer.body),
          peer: holder.replica,
          ...(holder.about ? { fetchedFor: holder.about } : {}),
          // The holder commits the blob; this replica's verified copy was only for its own readers.
          commit: (tempPath) => unlink(tempPath),
        };
      }
      if (answer.kind === 'not-running') {
        // Over already: committed (serve it) or failed (claim again: the lease is released or about to be).
        if ((await this.o.stat(digest)) !== undefined) throw new StoredMeanwhile(`${digest} was stored by ${holder.replica}`);
        unreachableSince = undefined;
        await this.sleep(50);
        continue;
      }
      // No answer: the holder died (its lease expires, then it is taken over) or cannot be reached from here.
      const now = this.clock();
      unreachableSince ??= now;
      if (now - unreachableSince > this.o.leases.ttlMs + 2 * pollMs) {
        // The holder keeps renewing yet cannot be reached: a wrong cluster.advertise or a network split. The pull
        // goes on from upstream rather than failing, at the cost of a second fetch.
        this.o.log.warn({ digest, holder: holder.replica, owner: holder.owner, reason: answer.reason }, 'replica holding the fill is unreachable; fetching from upstream too');
        return fromUpstream();
      }
      this.o.log.debug({ digest, holder: holder.replica, reason: answer.reason }, 'fill holder not answering; waiting for its lease');
      await this.sleep(Math.max(10, Math.min(pollMs, holder.expiresAt - now + 10)));
    }
  }

  private isSelf(holder: LeaseRecord): boolean {
    const self = this.o.leases.self;
    return holder.owner === self.owner && holder.incarnation === self.incarnation;
  }

  private release(name: string, release: () => Promise<void>): void {
    const releasing: Promise<void> = release()
      .catch(() => undefined)
      .finally(() => {
        if (this.releasing.get(name) === releasing) this.releasing.delete(name);
      });
    this.releasing.set(name, releasing);
  }
}
