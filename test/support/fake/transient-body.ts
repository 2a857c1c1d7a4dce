// A response body whose chunks are views of ONE reused buffer, overwritten as soon as each is handed over, as a body
// read straight from the socket hands them (src/upstream/chunk-source.ts): a reader that keeps a chunk instead of
// copying it ends up with the wrong bytes. Fault injection for what a real upstream cannot do on cue: break or go
// silent at a chosen byte. Used where chunk sources and the fill are tested without a network.
import { Readable } from 'node:stream';
import type { ChunkSource, TransientBody } from '../../../src/upstream/chunk-source.js';

export interface TransientFaults {
  /** Chunk size (bytes). */
  chunkBytes?: number;
  /** The body errors (a broken connection) once this many bytes are delivered. */
  breakAt?: number;
  /** The body goes silent without ending once this many bytes are delivered. */
  stallAt?: number;
}

/** A ChunkSource over `data` that reuses one buffer for every chunk and poisons it after each call. */
export class TransientChunks implements ChunkSource {
  delivered = 0;
  paused = false;
  destroyed: Error | undefined;
  private readonly scratch: Buffer;
  private onChunk: ((chunk: Buffer) => void) | undefined;
  private onEnd: ((err?: Error) => void) | undefined;
  private ended = false;
  private scheduled = false;

  constructor(
    private readonly data: Buffer,
    private readonly faults: TransientFaults = {},
  ) {
    this.scratch = Buffer.alloc(faults.chunkBytes ?? 16 * 1024);
  }

  deliver(onChunk: (chunk: Buffer) => void, onEnd: (err?: Error) => void): void {
    this.onChunk = onChunk;
    this.onEnd = onEnd;
    this.schedule();
  }

  pause(): void {
    this.paused = true;
  }

  resume(): void {
    this.paused = false;
    this.schedule();
  }

  destroy(err?: Error): void {
    this.destroyed = err ?? new Error('destroyed');
    this.end(this.destroyed);
  }

  private schedule(): void {
    if (this.scheduled || this.ended || !this.onChunk) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      this.step();
    });
  }

  private step(): void {
    if (this.ended || this.paused) return;
    const { breakAt, stallAt } = this.faults;
    if (breakAt !== undefined && this.delivered >= breakAt) return this.end(new Error('connection reset'));
    if (stallAt !== undefined && this.delivered >= stallAt) return;
    if (this.delivered === this.data.length) return this.end();
    const limit = Math.min(this.data.length, breakAt ?? Infinity, stallAt ?? Infinity);
    const n = Math.min(this.scratch.length, limit - this.delivered);
    this.data.copy(this.scratch, 0, this.delivered, this.delivered + n);
    this.delivered += n;
    this.onChunk?.(this.scratch.subarray(0, n));
    // Valid only during the call: what was kept is garbage now.
    this.scratch.fill(0xa5);
    this.schedule();
  }

  private end(err?: Error): void {
    if (this.ended) return;
    this.ended = true;
    this.onEnd?.(err);
  }
}

/** A Readable body (as an upstream answer has) whose bytes come through `chunks()` as TransientChunks. */
export function transientBody(data: Buffer, faults: TransientFaults = {}): Readable & TransientBody & { source: TransientChunks } {
  const source = new TransientChunks(data, faults);
  const body = new Readable({ read() {} });
  body.on('error', () => undefined);
  return Object.assign(body, { source, chunks: () => source });
}
