// Reads a blob from a fill's growing temp file: bytes flow as soon as the fill has written them, except the blob's last
// byte, which waits until the fill has verified length and digest. If the fill fails, the reader errors, so its
// client's transfer is aborted rather than ended short (docs/architecture.md,
// "Decision: blobs stream, verify, then commit").
import type { FileHandle } from 'node:fs/promises';
import { Readable } from 'node:stream';
import type { ByteSpan } from '../cache/ports.js';

/** What a reader needs to know about the fill it follows. */
export interface FillProgress {
  readonly size: number;
  /** Bytes received so far: in memory (recentBytes) or in the temp file. */
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
  /** Recently written bytes still in memory, or undefined. */
  recentBytes(position: number, length: number): Buffer | undefined;
}

// Large reads: each chunk becomes one socket write, and TLS costs per write, not only per byte.
const chunkSize = 1024 * 1024;

export class FillReader extends Readable {
  private handle: FileHandle | undefined;
  private position: number;
  private readonly end: number;
  private unsubscribe: (() => void) | undefined;
  private reading = false;

  /** `release` tells the fill this reader no longer needs its file. */
  constructor(
    private readonly fill: FillProgress,
    span: ByteSpan,
    private readonly release: () => void,
  ) {
    super({ highWaterMark: chunkSize });
    this.position = span.start;
    this.end = span.end;
  }

  override _construct(done: (err?: Error | null) => void): void {
    // The fill's own handle: it keeps reading the same inode after the fill renames the file into the store.
    this.fill.file.then(
      (h) => {
        this.handle = h;
        done();
      },
      (err: Error) => done(err),
    );
  }

  override _read(): void {
    void this.pump();
  }

  private async pump(): Promise<void> {
    if (this.reading || !this.handle) return;
    this.reading = true;
    try {
      for (;;) {
        if (this.fill.state === 'failed') {
          this.destroy(this.fill.error ?? new Error('fill failed'));
          return;
        }
        if (this.position > this.end) {
          // A response that reaches the blob's end ends only once the whole blob is verified.
          if (this.end < this.fill.size - 1 || this.fill.readable) this.push(null);
          else this.waitForProgress();
          return;
        }
        // The blob's last byte is held back until the fill is verified.
        const verified = this.fill.readable;
        const available = verified ? this.fill.size : Math.min(this.fill.received, this.fill.size - 1);
        const limit = Math.min(available, this.end + 1);
        if (limit <= this.position) {
          this.waitForProgress();
          return;
        }
        const length = Math.min(chunkSize, limit - this.position);
        const chunk = this.fill.recentBytes(this.position, length) ?? (await this.readFile(Math.min(length, this.fill.written - this.position)));
        if (!chunk) return;
        this.position += chunk.length;
        if (!this.push(chunk)) return;
      }
    } catch (err) {
      this.destroy(err as Error);
    } finally {
      this.reading = false;
    }
  }

  /**
   * A reader that fell behind the in-memory window reads the file, only as far as the fill has written it (a byte
   * not yet written is still in memory); undefined when it was destroyed.
   */
  private async readFile(length: number): Promise<Buffer | undefined> {
    if (!this.handle) return undefined;
    if (length <= 0) {
      this.destroy(new Error('fill reader found a byte neither in memory nor written'));
      return undefined;
    }
    const buffer = Buffer.allocUnsafe(length);
    const { bytesRead } = await this.handle.read(buffer, 0, length, this.position);
    if (bytesRead === 0) {
      this.destroy(new Error('temp file shorter than the fill reported'));
      return undefined;
    }
    return bytesRead === length ? buffer : buffer.subarray(0, bytesRead);
  }

  private waitForProgress(): void {
    if (this.unsubscribe) return;
    this.unsubscribe = this.fill.onProgress(() => {
      this.unsubscribe?.();
      this.unsubscribe = undefined;
      void this.pump();
    });
  }

  override _destroy(err: Error | null, done: (err?: Error | null) => void): void {
    this.unsubscribe?.();
    this.unsubscribe = undefined;
    this.handle = undefined;
    this.release();
    done(err);
  }
}
