// A stored blob, or a fill in progress (src/mirror/fill-reader.ts), to the client without a stream in between: one
// buffer read into and written to the socket, reused once the socket has taken its bytes. A cache hit, or a client
// following a fill, then allocates no buffer per chunk, which keeps the garbage collector off the byte path (with a
// fresh buffer per read it cost more CPU than the TLS encryption). Hand-written because this is the hot byte path;
// it keeps pipeline()'s rules: a read error or a client that leaves destroys the response (the client sees an
// aborted transfer, never a clean short end) and the body is destroyed (its file closed, its fill let go) either way.
//
// The buffers come from two pools shared by every response, fixed in size, so memory stays flat in the number of
// clients (docs/architecture.md, "Decision: memory is flat in clients and blob size"): a response's first read uses
// a small buffer (most manifests, configs and small layers fit in it) unless its Content-Length says the body is
// larger; a body that goes on moves to a large buffer (fewer, larger writes: TLS costs per write). When a pool is
// empty a response does not wait (a client that stops reading would hold the others up): it goes on with a small
// buffer, from the small pool or, beyond it, one of its own that is collected afterwards. No response reads ahead
// into a second buffer while the first is written: the socket's own buffer keeps the client busy meanwhile, and a
// second buffer would double what each slow client holds (docs/operating.md, "Memory"). A follower at a fill's edge
// takes no buffer: it writes the fill's batches as they are (BlobFill.lendRecent), shared by every follower instead
// of copied into one buffer each.
import type { ServerResponse } from 'node:http';
import type { LentBytes, PositionalBody } from '../cache/file-body.js';
import { BufferPool } from './buffer-pool.js';
import { http } from './node-http.js';

const smallBytes = 64 * 1024;
/** 8 MiB of small and 8 MiB of large buffers at most, whatever the number of clients. */
export const sendPools = { small: new BufferPool(smallBytes, 128), large: new BufferPool(256 * 1024, 32) };

/**
 * Bytes lent by a fill written at once, at most: a whole batch (512 KiB, src/mirror/batch-buffers.ts). Lent bytes
 * cost no buffer, and half-batch writes cost 16 concurrent cold pulls a fifth more CPU (npm run bench, conc part).
 */
const lentWriteBytes = 512 * 1024;

interface Lent {
  buffer: Buffer;
  /** Where it goes back; undefined: a buffer of its own, beyond the pools. */
  pool: BufferPool | undefined;
}

/** Buffers of their own (beyond the pools) that responses hold now. */
export const ownBuffers = { held: 0 };

function fromPools(large: boolean): Lent | undefined {
  const fromLarge = large ? sendPools.large.take() : undefined;
  if (fromLarge) return { buffer: fromLarge, pool: sendPools.large };
  const fromSmall = sendPools.small.take();
  if (fromSmall) return { buffer: fromSmall, pool: sendPools.small };
  return undefined;
}

/** A response's first buffer (a large one for a body known to be larger than a small one): from the pools, or beyond
 * them one of its own. */
function lendFirst(large: boolean): Lent {
  const pooled = fromPools(large);
  if (pooled) return pooled;
  ownBuffers.held++;
  return { buffer: Buffer.allocUnsafeSlow(smallBytes), pool: undefined };
}

function giveBack(lent: Lent | undefined): void {
  if (lent === undefined) return;
  if (lent.pool) lent.pool.giveBack(lent.buffer);
  else ownBuffers.held--;
}

/** A small buffer swapped for a large one when the body goes on and a large one is free (the small one is idle). */
function grown(lent: Lent): Lent {
  if (lent.pool === sendPools.large) return lent;
  const large = sendPools.large.take();
  if (!large) return lent;
  giveBack(lent);
  return { buffer: large, pool: sendPools.large };
}

class ClientGone extends Error {
  constructor() {
    super('client closed the connection');
  }
}

/**
 * The client leaving, as the response's waits see it. Each wait (a write, a read) is raced with it by a callback
 * dropped when the wait settles: a reaction left on one promise that lives as long as the response, per chunk,
 * would keep about 2 KiB per chunk written until the response ends (megabytes for a large blob).
 */
class Departure {
  gone = false;
  /** The one wait of run() raced with the client leaving, if any. */
  private waiting: ((err: Error) => void) | undefined;
  /** HTTP/1.1 writes not yet called back. */
  private readonly writes = new Set<(err: Error) => void>();

  constructor(private readonly res: ServerResponse) {
    res.once('close', () => {
      this.gone = true;
      this.waiting?.(new ClientGone());
      for (const settle of this.writes) settle(new ClientGone());
      this.writes.clear();
    });
  }

  /** `p`, or ClientGone if the client leaves first. One at a time. */
  race<T>(p: Promise<T>): Promise<T> {
    if (this.gone) return Promise.reject(new ClientGone());
    return new Promise<T>((resolve, reject) => {
      this.waiting = reject;
      p.then(
        (value) => ((this.waiting = undefined), resolve(value)),
        (err: unknown) => ((this.waiting = undefined), reject(err as Error)),
      );
    });
  }

  /**
   * Writes `chunk`; settles (never rejects) once the response no longer refers to it. Node's HTTP/1.1 response never
   * calls back a write it dropped (to a connection destroyed before its 'close' event) or queued for a connection it
   * never got (a pipelined response behind one the client left): over HTTP/1.1 a write is settled by the response's
   * 'close' too, which comes once the socket is closed (its pending writes cancelled) or the response finished, when
   * nothing refers to the chunk any more. An HTTP/2 stream calls back every write, cancelled ones too.
   */
  write(chunk: Buffer): Promise<Error | undefined> {
    const h1 = this.res instanceof http.ServerResponse;
    return new Promise((resolve) => {
      const settle = (e: Error | undefined): void => {
        this.writes.delete(settle);
        resolve(e);
      };
      if (h1 && this.gone) settle(new ClientGone());
      else if (h1) this.writes.add(settle);
      this.res.write(chunk, (e) => settle(e ?? undefined));
    });
  }
}

/**
 * Sends `body` (headers already set, with setHeader: those given to writeHead alone are not read back) and ends the
 * response; `onDone` gets the error, if any, and the bytes sent.
 */
export function sendFileBody(res: ServerResponse, body: PositionalBody, onDone: (err: Error | undefined, bytes: number) => void): void {
  let bytes = 0;
  // A body larger than a small buffer starts with a large one: no small buffer taken for its first chunk only.
  const large = Number(res.getHeader('content-length') ?? 0) > smallBytes;
  const client = new Departure(res);
  let lent: Lent | undefined;
  /** The last write: settles (never rejects) when the socket is done with the buffer, even on an abort. */
  let written: Promise<Error | undefined> = Promise.resolve(undefined);
  /** The last read into the buffer: settles (never rejects) when the body no longer writes into it. */
  let pendingRead: Promise<unknown> = Promise.resolve();
  /** Lent bytes from the body, raced with the client leaving; lent after it left, they are let go at once. */
  const borrow = async (lend: NonNullable<PositionalBody['lend']>, position: number): Promise<LentBytes | 0 | undefined> => {
    const lending = lend(position, lentWriteBytes);
    try {
      return await client.race(lending);
    } catch (err) {
      void lending.then((l) => l && l.release(), () => undefined);
      throw err;
    }
  };
  const run = async (): Promise<void> => {
    let position = body.start;
    for (;;) {
      const err = await client.race(written);
      if (err) throw err;
      if (client.gone) throw new ClientGone();
      // A follower at a fill's edge writes the fill's own bytes: no buffer, no copy.
      const borrowed = body.lend ? await borrow(body.lend.bind(body), position) : undefined;
      if (borrowed === 0) break;
      if (borrowed) {
        giveBack(lent);
        lent = undefined;
        position += borrowed.bytes.length;
        bytes += borrowed.bytes.length;
        written = client.write(borrowed.bytes).then((e) => (borrowed.release(), e));
        continue;
      }
      lent = lent ? grown(lent) : lendFirst(large);
      const buffer = lent.buffer;
      // Raced with the client leaving: a body waiting for a fill in progress may wait long. The read itself may
      // still fill the buffer after that, so the buffer goes back to its pool only once the read has settled too.
      const read = body.readInto(buffer, position);
      pendingRead = read.catch(() => undefined);
      const n = await client.race(read);
      if (n === 0) break;
      position += n;
      bytes += n;
      written = client.write(n === buffer.length ? buffer : buffer.subarray(0, n));
      // For a file, a short read is the end of the file or of the span: no buffer is taken for a read of nothing.
      if (n < buffer.length && body.shortReadIsEnd) break;
    }
    const err = await client.race(written);
    if (err) throw err;
  };
  const returnBuffer = (): void => {
    // Only once the socket and the body are done with it: a write still queued on a slow (or aborted) socket, or a
    // read the client's leaving cut short, refers to the buffer, which must not be handed to another response meanwhile.
    const held = lent;
    void Promise.all([written, pendingRead]).then(() => giveBack(held));
  };
  run().then(
    () => {
      returnBuffer();
      body.destroy();
      res.end();
      onDone(undefined, bytes);
    },
    (err: Error) => {
      body.destroy();
      if (!res.destroyed) res.destroy(err);
      returnBuffer();
      onDone(err, bytes);
    },
  );
}
