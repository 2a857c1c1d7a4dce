// A stored blob, or a fill in progress (src/mirror/fill-reader.ts), to the client without a stream in between: two
// buffers taken turns (one read while the other is written to the socket), each reused once the socket has taken
// its bytes, from a small pool shared by all responses. A cache hit, or a client following a fill, then allocates
// no buffer per chunk, which keeps the garbage collector off the byte path (with a fresh buffer per read it cost
// more CPU than the TLS encryption). Hand-written because this is the hot byte path; it keeps pipeline()'s rules: a
// read error or a client that leaves destroys the response (the client sees an aborted transfer, never a clean
// short end) and the body is destroyed (its file closed, its fill let go) either way.
import type { ServerResponse } from 'node:http';
import type { PositionalBody } from '../cache/file-body.js';

const slotBytes = 512 * 1024;
/** Buffers kept for reuse between responses, at most (idle memory stays bounded). */
const poolLimit = 16;
const pool: Buffer[] = [];

const take = (): Buffer => pool.pop() ?? Buffer.allocUnsafeSlow(slotBytes);
const giveBack = (buffers: Buffer[]): void => {
  for (const b of buffers) if (pool.length < poolLimit) pool.push(b);
};

class ClientGone extends Error {
  constructor() {
    super('client closed the connection');
  }
}

/** Writes `chunk` and resolves once the socket has taken it (the buffer may then be reused). */
function written(res: ServerResponse, chunk: Buffer, gone: Promise<never>): Promise<void> {
  const done = new Promise<void>((resolve, reject) => {
    res.write(chunk, (err) => (err ? reject(err) : resolve()));
  });
  return Promise.race([done, gone]);
}

/** Sends `body` (headers already set) and ends the response; `onDone` gets the error, if any, and the bytes sent. */
export function sendFileBody(res: ServerResponse, body: PositionalBody, onDone: (err: Error | undefined, bytes: number) => void): void {
  let bytes = 0;
  let closed = false;
  const gone = new Promise<never>((_, reject) => res.once('close', () => ((closed = true), reject(new ClientGone()))));
  gone.catch(() => undefined);
  const buffers = [take(), take()];
  const pending: (Promise<void> | undefined)[] = [undefined, undefined];
  const run = async (): Promise<void> => {
    let position = body.start;
    for (let slot = 0; ; slot ^= 1) {
      await pending[slot];
      if (closed) throw new ClientGone();
      const buffer = buffers[slot] as Buffer;
      // Raced with the client leaving: a body waiting for a fill in progress may wait long.
      const n = await Promise.race([body.readInto(buffer, position), gone]);
      if (n === 0) break;
      position += n;
      bytes += n;
      pending[slot] = written(res, n === buffer.length ? buffer : buffer.subarray(0, n), gone);
      // Not awaited here: the next read fills the other buffer while this one goes out.
      pending[slot]?.catch(() => undefined);
    }
    await Promise.all(pending);
  };
  run().then(
    () => {
      giveBack(buffers);
      body.destroy();
      res.end();
      onDone(undefined, bytes);
    },
    (err: Error) => {
      // A write may still hold a buffer: these two are not reused.
      body.destroy();
      if (!res.destroyed) res.destroy(err);
      onDone(err, bytes);
    },
  );
}
