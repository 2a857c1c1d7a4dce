// The body of a direct read (direct-get.ts), in two faces. chunks(): a ChunkSource handing over views of the
// connection's reused read buffer, for the blob fill that copies them into its own batches (docs/architecture.md,
// "Decision: blobs stream, verify, then commit"; src/upstream/chunk-source.ts). Any other reader (a capped read,
// a pipe) uses the Readable face, which pushes copies. The first face used wins. dump() (a redirect's body, a
// 401's) reads a small body to its end so that its connection can be kept (direct-pool.ts) and closes a large one.
import { Readable } from 'node:stream';
import { errors as undiciErrors } from 'undici';
import type { ChunkSource, TransientBody } from '../chunk-source.js';

/** What the body asks of its connection. */
export interface BodyConnection {
  /** Stop reading from the socket (backpressure); the idle timer does not run meanwhile. */
  pause(): void;
  resume(): void;
  /** Close the connection; nothing more is handed to the body. */
  close(): void;
}

/** The largest body dump() reads to its end to keep the connection (undici's dump() reads up to 128 KiB by default). */
export const dumpLimit = 64 * 1024;

interface Sink {
  onChunk: (chunk: Buffer) => void;
  onEnd: (err?: Error) => void;
}

export class DirectBody extends Readable implements TransientBody {
  private mode: 'unread' | 'readable' | 'chunks' | 'dumped' = 'unread';
  /** Resolves dump() once a dumped body has ended. */
  private dumped: (() => void) | undefined;
  private sink: Sink | undefined;
  private sinkPaused = false;
  /** Bytes read together with the head (a copy), handed over first. */
  private pending: Buffer | undefined;
  /** The body's end as the connection reported it: undefined while it runs, null for a clean end. */
  private ended: Error | null | undefined;

  constructor(
    private readonly connection: BodyConnection,
    pending: Buffer,
    /** The Content-Length. */
    private readonly length: number,
  ) {
    super();
    if (pending.length > 0) this.pending = pending;
  }

  /** The bytes as transient chunks, if the Readable face has not been read from. */
  chunks(): ChunkSource | undefined {
    if (this.mode !== 'unread' || this.destroyed) return undefined;
    this.mode = 'chunks';
    return {
      deliver: (onChunk, onEnd) => {
        if (this.sink) throw new Error('a direct body is delivered once');
        this.sink = { onChunk, onEnd };
        // Asynchronously, so the reader is set up before its first chunk.
        process.nextTick(() => this.flushToSink());
      },
      pause: () => {
        this.sinkPaused = true;
        this.connection.pause();
      },
      resume: () => {
        this.sinkPaused = false;
        this.flushToSink();
      },
      destroy: (err) => this.endSink(err ?? new undiciErrors.RequestAbortedError()),
    };
  }

  /**
   * The body is not needed: an unread body up to dumpLimit is read to its end and dropped, so the connection may be
   * kept; any other is closed at once. Never rejects: a body that fails meanwhile is dropped all the same.
   */
  dump(): Promise<void> {
    if (this.mode === 'chunks') this.endSink(new undiciErrors.RequestAbortedError());
    else if (this.mode !== 'unread' || this.destroyed || this.ended !== undefined || this.length > dumpLimit) this.destroy();
    else {
      this.mode = 'dumped';
      this.pending = undefined;
      const done = new Promise<void>((resolve) => (this.dumped = resolve));
      this.connection.resume();
      return done;
    }
    return Promise.resolve();
  }

  /** From the connection: the next bytes, valid only during this call. False: pause reading. */
  data(view: Buffer): boolean {
    if (this.mode === 'dumped') return true;
    if (this.mode === 'unread' || (this.mode === 'chunks' && !this.sink) || this.pending) {
      // Read before anyone asked (a TLS record decrypted as the socket paused): kept, as a copy.
      this.pending = this.pending ? Buffer.concat([this.pending, view]) : Buffer.from(view);
      return false;
    }
    if (this.mode === 'chunks') {
      this.sink?.onChunk(view);
      return !this.sinkPaused;
    }
    return this.push(Buffer.from(view));
  }

  /** From the connection: the body ended, cleanly (no argument) or with `err`. */
  end(err?: Error): void {
    if (this.ended !== undefined) return;
    this.ended = err ?? null;
    if (this.mode === 'dumped') {
      this.destroy();
      this.dumped?.();
      return;
    }
    if (this.mode === 'chunks') {
      if (this.sink && !this.pending) this.endSink(err);
      return;
    }
    if (this.pending) return; // handed over first, by _read
    if (err) this.fail(err);
    else this.push(null);
  }

  override _read(): void {
    if (this.mode === 'chunks' || this.mode === 'dumped') return;
    this.mode = 'readable';
    const pending = this.pending;
    this.pending = undefined;
    if (pending && !this.push(pending)) return;
    if (this.ended === undefined) this.connection.resume();
    else if (this.ended) this.fail(this.ended);
    else this.push(null);
  }

  /**
   * Destroys the Readable face with `err`. Like undici's bodies, with a listener that keeps an error nobody
   * listens for yet (a body not read yet) from crashing the process; readers still get it (pipeline, 'error').
   */
  private fail(err: Error): void {
    this.on('error', () => undefined);
    this.destroy(err);
  }

  override _destroy(err: Error | null, callback: (error?: Error | null) => void): void {
    this.connection.close();
    callback(err);
  }

  private flushToSink(): void {
    const sink = this.sink;
    if (!sink || this.sinkPaused) return;
    const pending = this.pending;
    this.pending = undefined;
    if (pending) sink.onChunk(pending);
    if (this.sinkPaused && this.ended === undefined) return;
    if (this.ended !== undefined) this.endSink(this.ended ?? undefined);
    else this.connection.resume();
  }

  /** Ends the chunk delivery once; the Readable face is closed without an 'error' (the reader got it in onEnd). */
  private endSink(err?: Error): void {
    const sink = this.sink;
    this.sink = undefined;
    this.pending = undefined;
    if (this.ended === undefined) this.ended = err ?? null;
    if (!this.destroyed) this.destroy();
    sink?.onEnd(err);
  }
}
