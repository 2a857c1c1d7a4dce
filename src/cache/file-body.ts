// A stored blob (or a span of it) as a reply body. Read as a stream it behaves like fs.ReadStream; the server
// instead writes it to the client from a few reused buffers (src/server/send-file.ts): a cache hit then allocates
// no buffer per chunk, and the garbage collector (which a fresh 1 MiB buffer per read keeps busy) stays off the
// byte path. The handle is the caller's: opened before, so an eviction that unlinks the file meanwhile does not
// take the bytes away; closed when the body is destroyed.
import type { FileHandle } from 'node:fs/promises';
import { Readable } from 'node:stream';

/** Large reads: each chunk becomes one socket write, and TLS costs per write, not only per byte. */
export const fileChunkBytes = 1024 * 1024;

/**
 * A body the server copies into its own reused buffers instead of reading it as a stream (src/server/send-file.ts):
 * a stored blob, or a fill in progress (src/mirror/fill-reader.ts).
 */
export interface PositionalBody extends Readable {
  /** The first byte. */
  readonly start: number;
  /** Bytes from `position` into `buffer` (at most its length): 0 at the end. */
  readInto(buffer: Buffer, position: number): Promise<number>;
  /** Whether fewer bytes than asked for means the end (a file), or only that no more are there yet (a fill). */
  readonly shortReadIsEnd: boolean;
  /**
   * Optional: bytes from `position` (at most `max`) lent without a copy when the body holds them in memory (a fill's
   * recent batches): 0 at the end, undefined when they are to be read with readInto.
   */
  lend?(position: number, max: number): Promise<LentBytes | 0 | undefined>;
}

/** Bytes a body lends without a copy; `release` once nothing refers to them any more (called once). */
export interface LentBytes {
  bytes: Buffer;
  release(): void;
}

export function isPositionalBody(body: Readable): body is PositionalBody {
  return typeof (body as Partial<PositionalBody>).readInto === 'function';
}

export class FileBody extends Readable implements PositionalBody {
  readonly shortReadIsEnd = true;
  /** The next byte to read. */
  private position: number;

  constructor(
    readonly handle: FileHandle,
    /** First byte. */
    readonly start: number,
    /** Last byte (inclusive), or undefined: to the end of the file. */
    readonly end: number | undefined,
  ) {
    super({ highWaterMark: fileChunkBytes });
    this.position = start;
  }

  /** Bytes from `position` up to `buffer.length` and not past `end`: 0 at the end. */
  async readInto(buffer: Buffer, position: number): Promise<number> {
    const length = this.end === undefined ? buffer.length : Math.min(buffer.length, this.end + 1 - position);
    if (length <= 0) return 0;
    const { bytesRead } = await this.handle.read(buffer, 0, length, position);
    return bytesRead;
  }

  override _read(): void {
    const buffer = Buffer.allocUnsafe(fileChunkBytes);
    this.readInto(buffer, this.position).then(
      (n) => {
        this.position += n;
        this.push(n === 0 ? null : buffer.subarray(0, n));
      },
      (err: Error) => this.destroy(err),
    );
  }

  override _destroy(err: Error | null, done: (err?: Error | null) => void): void {
    this.handle.close().then(
      () => done(err),
      (closeErr: Error) => done(err ?? closeErr),
    );
  }
}
