// Reads a blob from a fill in progress: bytes flow as soon as the fill has them, from memory while they are recent
// and from the temp file once written, except the blob's last byte, which waits until the fill has verified length
// and digest. If the fill fails, the reader errors, so its client's transfer is aborted rather than ended short
// (docs/architecture.md, "Decision: blobs stream, verify, then commit").
//
// The server copies the bytes into its own reused buffers (`readInto`, src/server/send-file.ts), as it does for a
// cache hit: a client slower than the upstream then reads the temp file without a new buffer per read, which kept
// the garbage collector as busy as the bytes themselves. Read as a stream (a peer replica's copy), it allocates a
// buffer per chunk like fs.ReadStream.
import type { FileHandle } from 'node:fs/promises';
import { Readable } from 'node:stream';
import type { ByteSpan } from '../cache/ports.js';
import { fileChunkBytes, type LentBytes, type PositionalBody } from '../cache/file-body.js';

/** What a reader needs to know about the fill it follows. */
export interface FillProgress {
  readonly size: number;
  /** Bytes received so far: in memory (copyRecent) or in the temp file. */
  readonly received: number;
  /**
   * Bytes from the start of the blob that the fill has written to the temp file. Past them the file may hold holes
   * and bytes not yet verified: a segmented fill writes segments ahead of its prefix there (docs/segmented-fills.md).
   */
  readonly written: number;
  readonly state: 'filling' | 'verified' | 'done' | 'failed';
  /** The whole blob is verified and may be read to its end. */
  readonly readable: boolean;
  readonly error: Error | undefined;
  /** Calls `listener` on every write and on the end of the fill; returns an unsubscribe function. */
  onProgress(listener: () => void): () => void;
  /** The temp file, shared by the writer and every reader (positional reads). */
  readonly file: Promise<FileHandle>;
  /** Copies received bytes still in memory from `position` (at most `length`) into `target`; 0: they are in the file. */
  copyRecent(target: Buffer, position: number, length: number): number;
  /** Received bytes still in memory from `position` (at most `length`) lent without a copy; undefined: copy or read them. */
  lendRecent(position: number, length: number): LentBytes | undefined;
}

class ReaderGone extends Error {
  constructor() {
    super('fill reader destroyed');
  }
}

export class FillReader extends Readable implements PositionalBody {
  readonly start: number;
  /** A fill gives what it has so far: a short read is not the end. */
  readonly shortReadIsEnd = false;
  private readonly end: number;
  /** The next byte for stream reads. */
  private position: number;
  private handle: FileHandle | undefined;
  /** Wakes a `readInto` waiting for the fill; also called (to fail it) when the reader is destroyed. */
  private wake: (() => void) | undefined;
  private unsubscribe: (() => void) | undefined;

  /** `release` tells the fill this reader no longer needs its file. */
  constructor(
    private readonly fill: FillProgress,
    span: ByteSpan,
    private readonly release: () => void,
  ) {
    super({ highWaterMark: fileChunkBytes });
    this.start = span.start;
    this.position = span.start;
    this.end = span.end;
  }

  /**
   * Bytes from `position` into `buffer` (up to its length, not past the span's end) once the fill has them: 0 at
   * the end, which comes only once a span reaching the blob's last byte is verified. Rejects when the fill fails.
   */
  async readInto(buffer: Buffer, position: number): Promise<number> {
    const ready = await this.ready(position);
    if (ready === 0) return 0;
    const length = Math.min(buffer.length, ready);
    const copied = this.fill.copyRecent(buffer, position, length);
    return copied > 0 ? copied : this.readFile(buffer, position, length);
  }

  /**
   * Bytes from `position` (at most `max`) once the fill has them, lent without a copy while the fill holds them in
   * memory: 0 at the end, undefined when they are to be read with readInto (from the file, or past the lending bound).
   */
  async lend(position: number, max: number): Promise<LentBytes | 0 | undefined> {
    const ready = await this.ready(position);
    if (ready === 0) return 0;
    return this.fill.lendRecent(position, Math.min(max, ready));
  }

  /** Waits until the fill has bytes at `position`; how many may be read from there now, 0 at the end. */
  private async ready(position: number): Promise<number> {
    for (;;) {
      if (this.destroyed) throw new ReaderGone();
      const { fill } = this;
      if (fill.state === 'failed') throw fill.error ?? new Error('fill failed');
      if (position > this.end && (this.end < fill.size - 1 || fill.readable)) return 0;
      // The blob's last byte is held back until the fill is verified.
      const available = fill.readable ? fill.size : Math.min(fill.received, fill.size - 1);
      const limit = Math.min(available, this.end + 1);
      if (limit > position) return limit - position;
      await this.progress();
    }
  }

  /** Bytes not in memory any more: from the file, only as far as the fill has written it. */
  private async readFile(buffer: Buffer, position: number, length: number): Promise<number> {
    const fileLength = Math.min(length, this.fill.written - position);
    if (fileLength <= 0) throw new Error('fill reader found a byte neither in memory nor written');
    // The fill's own handle: it keeps reading the same inode after the fill renames the file into the store.
    this.handle ??= await this.fill.file;
    if (this.destroyed) throw new ReaderGone();
    const { bytesRead } = await this.handle.read(buffer, 0, fileLength, position);
    if (bytesRead === 0) throw new Error('temp file shorter than the fill reported');
    return bytesRead;
  }

  /** Resolves on the fill's next progress; rejects when the reader is destroyed meanwhile. */
  private progress(): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.wake = () => {
        this.wake = undefined;
        this.unsubscribe?.();
        this.unsubscribe = undefined;
        if (this.destroyed) reject(new ReaderGone());
        else resolve();
      };
      this.unsubscribe = this.fill.onProgress(() => this.wake?.());
    });
  }

  override _read(): void {
    this.nextChunk().then(
      (chunk) => {
        if (chunk) this.position += chunk.length;
        this.push(chunk);
      },
      (err: Error) => {
        if (!(err instanceof ReaderGone)) this.destroy(err);
      },
    );
  }

  /** A buffer of the next bytes as large as what is ready (at most a chunk), or null at the end. */
  private async nextChunk(): Promise<Buffer | null> {
    const ready = await this.ready(this.position);
    if (ready === 0) return null;
    const buffer = Buffer.allocUnsafe(Math.min(ready, fileChunkBytes));
    const n = await this.readInto(buffer, this.position);
    return n === buffer.length ? buffer : buffer.subarray(0, n);
  }

  override _destroy(err: Error | null, done: (err?: Error | null) => void): void {
    this.wake?.();
    this.handle = undefined;
    this.release();
    done(err);
  }
}
