// One upstream fetch of one blob into a temp file, hashed as it is written and committed to the blob store only
// when length and digest match. Any number of readers follow the growing file (FillReader). The fill does not
// belong to the request that started it: it keeps going when that client leaves, until the upstream goes quiet
// for the idle timeout (docs/architecture.md, "Decision: blobs stream, verify, then commit").
import { createHash } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { open, unlink, type FileHandle } from 'node:fs/promises';
import type { ByteSpan } from '../cache/ports.js';
import type { LentBytes } from '../cache/file-body.js';
import { RegistryError } from '../registry/errors.js';
import { digestAlgorithm, type Digest } from '../registry/digest.js';
import { FillReader, type FillProgress } from './fill-reader.js';
import { FillWriter, maxUnwrittenBytes } from './fill-writer.js';
import { SharedBatchBuffer } from './batch-buffers.js';
import type { ChunkSource } from '../upstream/chunk-source.js';
import { QuietTimer } from '../upstream/quiet-timer.js';

const writeBatchMs = 50;
/** Batches kept in memory after they are written, so readers keeping up never read the file back. */
const recentBatches = 4;

/** Bytes received in one piece of a pool buffer (batch-buffers.ts), which it holds until it lets it go. */
interface Batch {
  start: number;
  bytes: Buffer;
  owner: SharedBatchBuffer;
  onDisk: boolean;
}

export class BlobFill implements FillProgress {
  /** Bytes received, checked against the announced size and handed to readers (in memory or in the temp file). */
  received = 0;
  /** Bytes from the start written to the temp file (in order); past them the file is not the fill's to read. */
  written = 0;
  /** `verified`: length and digest checked, the commit (an upload, for a bucket) still running. */
  state: 'filling' | 'verified' | 'done' | 'failed' = 'filling';
  error: Error | undefined;
  readonly file: Promise<FileHandle>;
  /** Settles when the fill has committed or failed; never rejects. */
  readonly finished: Promise<void>;
  private readonly events = new EventEmitter();
  private readonly hash;
  private readers = 0;
  readonly startedAt = Date.now();
  /** Every batch not yet on disk, and the last few that are. */
  private recent: Batch[] = [];
  /** Told about a failed fill (a full disk suspends caching). */
  onFailure: ((err: Error) => void) | undefined;
  /** Told the size of each batch received from the upstream (metrics), before it is written. */
  onReceived: ((bytes: number) => void) | undefined;
  private closed = false;

  constructor(
    readonly digest: Digest,
    readonly size: number,
    readonly tempPath: string,
    /** The upstream body: its chunks are copied as they come, never kept. */
    body: ChunkSource,
    /** Makes the verified temp file the stored blob (fsync + rename, index row). */
    commit: (tempPath: string) => Promise<void>,
    idleTimeoutMs: number,
    /**
     * Readers may end once the bytes are verified, before the commit: for a store whose commit is an upload
     * (a bucket), a client does not wait for it. A failed commit then only means the blob is not cached.
     */
    private readonly releaseBeforeCommit = false,
  ) {
    this.events.setMaxListeners(0);
    this.hash = createHash(digestAlgorithm(digest));
    // One handle for the writer and all readers: positional reads need no handle of their own, and it stays
    // valid after the rename, so a reader never races the commit.
    this.file = open(tempPath, 'w+');
    this.file.catch(() => undefined);
    this.abort = (reason) => body.destroy(reason);
    this.finished = this.run(body, commit, idleTimeoutMs);
  }

  /** Stops the fill (shutdown): its readers fail, nothing is committed. */
  readonly abort: (reason: Error) => void;

  /** Readers following the fill right now (the client that started it included, while it reads). */
  get followers(): number {
    return this.readers;
  }

  onProgress(listener: () => void): () => void {
    this.events.on('progress', listener);
    return () => this.events.off('progress', listener);
  }

  /** A reader of `span`, or undefined when the fill is over and its file closed (read the store instead). */
  reader(span: ByteSpan): FillReader | undefined {
    if (this.closed) return undefined;
    this.readers++;
    let released = false;
    return new FillReader(this, span, () => {
      if (released) return;
      released = true;
      this.readers--;
      this.closeIfUnused();
    });
  }

  /** Copies received bytes still in memory from `position` (at most `length`) into `target`; 0: they are in the file. */
  copyRecent(target: Buffer, position: number, length: number): number {
    let copied = 0;
    for (const batch of this.recent) {
      const offset = position + copied - batch.start;
      if (offset < 0) break;
      if (offset >= batch.bytes.length) continue;
      copied += batch.bytes.copy(target, copied, offset, Math.min(batch.bytes.length, offset + length - copied));
      if (copied === length) return copied;
    }
    return copied;
  }

  /**
   * Received bytes still in memory from `position` (at most `length`, within one batch) lent without a copy: a
   * follower at the fill's edge writes them to its client straight from the batch, which stays out of the pool
   * until `release` (batch-buffers.ts bounds how many). Undefined: copy or read them (copyRecent, the file).
   */
  lendRecent(position: number, length: number): LentBytes | undefined {
    for (const batch of this.recent) {
      const offset = position - batch.start;
      if (offset < 0) return undefined;
      if (offset >= batch.bytes.length) continue;
      const { owner } = batch;
      if (!owner.lend()) return undefined;
      return { bytes: batch.bytes.subarray(offset, Math.min(batch.bytes.length, offset + length)), release: () => owner.giveBackLent() };
    }
    return undefined;
  }

  /** Whether the whole blob may be read: verified (and committed, unless readers need not wait for that). */
  get readable(): boolean {
    return this.state === 'done' || (this.state === 'verified' && this.releaseBeforeCommit);
  }

  private closeIfUnused(): void {
    // While the commit runs the file stays open: a request arriving now still follows this fill.
    if (this.state === 'filling' || this.state === 'verified' || this.readers > 0 || this.closed) return;
    this.closed = true;
    // No write runs any more (the fill is over) and no reader is left: every buffer goes back.
    for (const batch of this.recent) batch.owner.release();
    this.recent = [];
    void this.file.then((h) => h.close()).catch(() => undefined);
  }

  private async run(body: ChunkSource, commit: (tempPath: string) => Promise<void>, idleTimeoutMs: number): Promise<void> {
    let writer: FillWriter | undefined;
    try {
      writer = new FillWriter(await this.file);
      await this.receive(body, writer, idleTimeoutMs);
      await writer.finish();
      this.verify();
      this.state = 'verified';
      if (this.releaseBeforeCommit) this.events.emit('progress');
      await this.commitVerified(commit);
      this.state = 'done';
    } catch (err) {
      body.destroy();
      await writer?.drained();
      this.state = 'failed';
      this.error = err instanceof Error ? err : new Error(String(err));
      this.onFailure?.(this.error);
      await unlink(this.tempPath).catch(() => undefined);
    } finally {
      this.events.emit('progress');
      this.closeIfUnused();
    }
  }

  /**
   * Reads the upstream body to its end: each chunk is hashed and copied into a pool buffer (batch-buffers.ts) as it
   * comes (the body may reuse the chunk's memory as soon as the call returns), and the buffer is handed on in
   * batches: one file write and one wake-up of the readers per batch instead of per 16 KiB TLS record keeps the
   * fill's CPU cost near that of hashing and copying. Memory held is in proportion to the bytes held, whatever
   * the chunk sizes (a hostile upstream's 1-byte records included). Rejects on an upstream error, a stall of
   * `idleTimeoutMs`, a body longer than announced or a failed write.
   */
  private receive(body: ChunkSource, writer: FillWriter, idleTimeoutMs: number): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      let target = new SharedBatchBuffer(this.size);
      let flushedAt = performance.now();
      let settled = false;
      let paused = false;
      // One timer; a chunk only records its time (quiet-timer.ts): no timer work per chunk on the byte path. It
      // measures the upstream only: while the fill waits for its disk (paused) it is stopped, and it starts afresh on
      // resume.
      const quiet = (): QuietTimer =>
        new QuietTimer(idleTimeoutMs, () => body.destroy(new RegistryError('UPSTREAM_TIMEOUT', 'upstream blob stalled')));
      let idle = quiet();
      const settle = (err?: unknown): void => {
        if (settled) return;
        settled = true;
        idle.stop();
        target.release();
        if (err === undefined) resolve();
        else reject(err);
      };
      const flush = (): void => {
        flushedAt = performance.now();
        if (target.filled > target.cut) this.take(target, writer);
      };
      const onChunk = (chunk: Buffer): void => {
        if (settled) return;
        const now = performance.now();
        idle.touch(now);
        if (writer.error !== undefined) return settle(writer.error);
        if (this.received + (target.filled - target.cut) + chunk.length > this.size) {
          return settle(new RegistryError('UPSTREAM_INVALID', 'upstream blob is longer than announced'));
        }
        this.hash.update(chunk);
        for (let at = 0; at < chunk.length; ) {
          if (target.room === 0) {
            flush();
            target.release();
            target = new SharedBatchBuffer(this.size - this.received);
          }
          const n = chunk.copy(target.bytes, target.filled, at);
          target.filled += n;
          at += n;
        }
        // A slow upstream still reaches the readers promptly: a batch is also written when it is old enough.
        // The first bytes go out at once (time to first byte); then batches.
        if (target.room === 0 || this.received === 0 || now - flushedAt >= writeBatchMs) flush();
        if (writer.unwritten > maxUnwrittenBytes && !paused) {
          paused = true;
          idle.stop();
          body.pause();
          void writer.drained().then(() => {
            paused = false;
            if (settled) return;
            idle = quiet();
            body.resume();
          });
        }
      };
      body.deliver(onChunk, (err) => {
        if (err === undefined && !settled) flush();
        settle(err);
      });
    });
  }

  /** The bytes of `buffer` not yet handed on: hashed already, handed to readers (in memory until on disk) and queued for the temp file. */
  private take(buffer: SharedBatchBuffer, writer: FillWriter): void {
    const bytes = buffer.cutBatch();
    const entry: Batch = { start: this.received, bytes, owner: buffer, onDisk: false };
    this.onReceived?.(bytes.length);
    this.recent.push(entry);
    this.received += bytes.length;
    writer.write([bytes], bytes.length, entry.start, () => {
      this.written = entry.start + bytes.length;
      entry.onDisk = true;
      // A batch on disk and out of `recent` is read from the file only: its buffer may be written into again.
      while (this.recent.length > recentBatches && this.recent[0]?.onDisk) this.recent.shift()?.owner.release();
    });
    this.events.emit('progress');
  }

  /** Length and digest against what was announced and asked for. */
  private verify(): void {
    if (this.received !== this.size) {
      throw new RegistryError('UPSTREAM_INVALID', `upstream blob ended after ${this.received} of ${this.size} bytes`);
    }
    const actual = `${digestAlgorithm(this.digest)}:${this.hash.digest('hex')}`;
    if (actual !== this.digest) {
      throw new RegistryError('UPSTREAM_INVALID', 'upstream blob does not match its digest', { detail: { expected: this.digest, got: actual } });
    }
  }

  private async commitVerified(commit: (tempPath: string) => Promise<void>): Promise<void> {
    try {
      await commit(this.tempPath);
    } catch (err) {
      // Readers may already have ended with the verified bytes: the blob is just not cached.
      if (!this.releaseBeforeCommit) throw err;
      this.onFailure?.(err instanceof Error ? err : new Error(String(err)));
      await unlink(this.tempPath).catch(() => undefined);
    }
  }
}
