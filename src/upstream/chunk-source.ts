// A response body read as chunks that are views of a reused buffer, valid only during the call that hands them
// over: the blob fill's byte path (docs/architecture.md, "Decision: blobs stream, verify, then commit") copies each
// chunk into its own batch buffers, so nothing allocates per TLS record. A Readable body is adapted to the same
// shape (readableChunks), so a fill reads every kind of body one way.
import { finished, type Readable } from 'node:stream';

export interface ChunkSource {
  /**
   * Starts delivery, once. `onChunk` gets each chunk in order; the chunk may be overwritten as soon as the call
   * returns (copy what you keep). `onEnd` is called once: without an error after the last byte, or with the error
   * that ended the body (destroy() included); no chunk follows it.
   */
  deliver(onChunk: (chunk: Buffer) => void, onEnd: (err?: Error) => void): void;
  /** Stops reading from the upstream until resume(); a chunk already read may still be delivered. */
  pause(): void;
  resume(): void;
  /** Ends the body early: the connection is closed and onEnd is called with `err` (or an abort error). */
  destroy(err?: Error): void;
}

/** A body that can hand over its bytes as transient chunks, bypassing its Readable side (if nothing was read yet). */
export interface TransientBody {
  chunks(): ChunkSource | undefined;
}

export function hasTransientChunks(body: unknown): body is TransientBody {
  return typeof (body as Partial<TransientBody> | null)?.chunks === 'function';
}

/** Any Readable as a chunk source: its chunks are its own buffers (they stay valid), read through 'data' events. */
export function readableChunks(body: Readable): ChunkSource {
  return {
    deliver(onChunk, onEnd) {
      let ended = false;
      const end = (err?: Error | null): void => {
        if (ended) return;
        ended = true;
        body.off('data', onChunk);
        onEnd(err ?? undefined);
      };
      body.on('data', onChunk);
      finished(body, (err) => end(err ?? undefined));
    },
    pause: () => body.pause(),
    resume: () => body.resume(),
    destroy: (err) => body.destroy(err),
  };
}

/** The fastest way to read `body`'s bytes: its transient chunks when it has them, else its Readable side. */
export function chunkSourceOf(body: Readable): ChunkSource {
  return (hasTransientChunks(body) ? body.chunks() : undefined) ?? readableChunks(body);
}
