// The in-flight fills, one per digest: the first request for an uncached blob starts one, every concurrent
// request for that digest (any client, any route) follows it. The entry exists from the moment the upstream
// request is sent, so requests that arrive before the upstream has answered coalesce too.
import { unlink } from 'node:fs/promises';
import type { Digest } from '../registry/digest.js';
import { BlobFill } from './blob-fill.js';
import type { ChunkSource } from '../upstream/chunk-source.js';

export interface FillSource {
  size: number;
  /** The blob's bytes (a Readable adapted with chunkSourceOf). */
  body: ChunkSource;
  /** Makes the verified temp file the stored blob. */
  commit(tempPath: string): Promise<void>;
  /** Told how many bytes arrived from the upstream, once per written batch (metrics). */
  received?: (bytes: number) => void;
  /** Told once, as the fill fails or else once it is over (a cluster lease on the fill is released). */
  settled?: () => void;
  /**
   * Told once, when the fill has every byte (verified) or has failed, at the latest when it is over: the cache room
   * it claimed for its temp file is released (the commit makes it a stored blob).
   */
  downloaded?: () => void;
  /** Told the fill as soon as it exists (a segmented fill writes segments ahead of the prefix to its temp file). */
  attach?: (fill: BlobFill) => void;
}

/** Where a fill's blob was first asked for: what the admin's live activity shows. */
export interface FillOrigin {
  upstream: string;
  repository: string;
}

/** A fill in flight: settles once the upstream has answered (or refused). */
export interface InflightFill {
  fill: Promise<BlobFill>;
  origin: FillOrigin | undefined;
  /**
   * The request context the fill's upstream request was made with (requestContext in blobs.ts): an upstream
   * refusal of the fill is an answer to that context only, never to a follower asking with another.
   */
  context: string | undefined;
}

export class Fills {
  private readonly inflight = new Map<Digest, InflightFill>();
  private readonly running = new Map<Digest, { fill: BlobFill; origin: FillOrigin | undefined }>();

  constructor(
    private readonly createTemp: () => Promise<string>,
    private readonly idleTimeoutMs: number,
    private readonly onFailure: (err: Error) => void = () => undefined,
    /** Readers end once the bytes are verified, before the commit (a slow upload to a bucket). */
    private readonly releaseBeforeCommit = false,
  ) {}

  get(digest: Digest): InflightFill | undefined {
    return this.inflight.get(digest);
  }

  get size(): number {
    return this.inflight.size;
  }

  /** The fills that have an upstream answer and are writing, with where they were asked for. */
  list(): Array<{ fill: BlobFill; origin: FillOrigin | undefined }> {
    return [...this.running.values()];
  }

  /**
   * Starts the fill for `digest` with `open` (the upstream request), unless one is already in flight (then that one
   * is returned). A failed `open` (an upstream error answer) rejects every waiter with that error and leaves nothing
   * behind; a waiter whose context differs from the fill's decides what that error means for it.
   */
  start(digest: Digest, open: () => Promise<FillSource>, origin?: FillOrigin, context?: string): InflightFill {
    const existing = this.inflight.get(digest);
    if (existing) return existing;
    const pending = (async () => {
      // The temp file is made while the upstream request is on its way, not after its answer: the client's
      // headers wait for both (time to first byte).
      const temp = this.createTemp();
      let made = false;
      temp.then(() => (made = true), () => undefined);
      let source: FillSource;
      try {
        source = await open();
      } catch (err) {
        // No fill: its temp file goes. One made already goes before the refusal is answered (nothing is left
        // behind); one still being made goes once it is, without a slow disk holding up the refusal.
        const removed = temp.then((path) => unlink(path), () => undefined).catch(() => undefined);
        if (made) await removed;
        throw err;
      }
      let tempPath: string;
      try {
        tempPath = await temp;
      } catch (err) {
        source.body.destroy();
        source.downloaded?.();
        source.settled?.();
        throw err;
      }
      const fill = new BlobFill(digest, source.size, tempPath, source.body, (path) => source.commit(path), this.idleTimeoutMs, this.releaseBeforeCommit);
      // The fill's lease (a cluster's or the workers'), given up once: when the fill fails, or else when it is over.
      let leaseHeld = true;
      const settled = (): void => {
        if (!leaseHeld) return;
        leaseHeld = false;
        source.settled?.();
      };
      fill.onFailure = (err) => {
        // A failed fill takes no new followers: a request arriving while it cleans up starts a fresh fill, which must
        // find the lease free (held by this process still, it would follow its own failed fill or wait for it).
        settled();
        if (this.inflight.get(digest) === entry) this.inflight.delete(digest);
        this.onFailure(err);
      };
      fill.onReceived = source.received;
      source.attach?.(fill);
      // The claim on the cache room, given back once: when the fill has every byte or has failed, else when it is over.
      let claimHeld = source.downloaded !== undefined;
      const downloaded = (): void => {
        if (!claimHeld) return;
        claimHeld = false;
        source.downloaded?.();
      };
      if (claimHeld) {
        const off = fill.onProgress(() => {
          if (fill.state === 'filling') return;
          off();
          downloaded();
        });
      }
      this.running.set(digest, { fill, origin });
      void fill.finished.then(() => {
        // Only its own entries: a fresh fill of the digest may have started since it failed.
        if (this.inflight.get(digest) === entry) this.inflight.delete(digest);
        if (this.running.get(digest)?.fill === fill) this.running.delete(digest);
        downloaded();
        settled();
      });
      return fill;
    })();
    const entry: InflightFill = { fill: pending, origin, context };
    pending.catch(() => {
      if (this.inflight.get(digest) === entry) this.inflight.delete(digest);
    });
    this.inflight.set(digest, entry);
    return entry;
  }

  /** Stops every fill in flight and waits until each has cleaned up (shutdown). */
  async abortAll(): Promise<void> {
    const fills = await Promise.allSettled([...this.inflight.values()].map((f) => f.fill));
    const reason = new Error('shutting down');
    await Promise.all(
      fills.map((f) => {
        if (f.status !== 'fulfilled') return undefined;
        f.value.abort(reason);
        return f.value.finished;
      }),
    );
  }
}
