// A long, slow or breaking network path in user space (docs/testing.md, "Slow and lossy links": this kernel has no
// netem): a TCP relay on a loopback port in front of a target. Each direction holds every chunk for the one-way delay
// before passing it on, and a sender may have at most `windowBytes` unacknowledged: bytes count as in flight from the
// moment they are read until the delay after their delivery (the acknowledgement's way back), so one connection moves
// about window/RTT, as a TCP connection with that window does on a path with that RTT. A rate cap serialises each
// direction's bytes as a link of that speed would. A connection can be cut after a number of bytes, to test resumption:
// the receiving end gets exactly those bytes and then an end of stream, the sending end a reset. (A reset both ways
// could not promise the byte count: a reset discards what the kernel has not yet delivered.)
import { connect, createServer, type AddressInfo, type Socket } from 'node:net';

export type LinkDirection = 'down' | 'up';

export interface LinkOptions {
  /** Where the relay connects: a loopback port. */
  targetPort: number;
  targetHost?: string;
  /** One-way delay in each direction, ms (RTT = 2 × this); default 0. */
  delayMs?: number;
  /** Bytes a sender may have in flight per direction and connection; default 4 MiB. */
  windowBytes?: number;
  /** Bytes per second per direction and connection; default: no cap. */
  bytesPerSecond?: number;
  /**
   * Cut a connection once this many bytes have been delivered in `direction` (`down`: target to client, the
   * default); only the first `connections` connections are cut (default: every one).
   */
  cut?: { afterBytes: number; direction?: LinkDirection; connections?: number };
  /**
   * Where to cut connection number `n` (from 0) in the `down` direction, or undefined to leave it whole: a cut
   * point per connection (random ones, say). Used instead of `cut` when given.
   */
  cutDownAfter?: (n: number) => number | undefined;
  /** The loopback address the relay listens on; default 127.0.0.1 (another one for a host named in a certificate). */
  listenHost?: string;
}

export interface LinkStats {
  /** Connections accepted so far. */
  connections: number;
  /** Connections the relay cut. */
  cut: number;
  /** Bytes delivered to the client (`down`) and to the target (`up`), all connections. */
  down: number;
  up: number;
}

export interface LinkEmulator {
  port: number;
  host: string;
  stats(): LinkStats;
  close(): Promise<void>;
}

const MiB = 1024 * 1024;

interface Held {
  chunk: Buffer;
  /** When the chunk leaves the far end of the path (performance.now() ms). */
  at: number;
}

/** One direction of one connection: from `src` (read) to `dst` (written). */
class Pipe {
  private readonly held: Held[] = [];
  /** Acknowledgements on their way back: window credit returned at `at`. */
  private readonly acks: { bytes: number; at: number }[] = [];
  private inFlight = 0;
  /** When the serialised link is free again (rate cap). */
  private wireFreeAt = 0;
  private timer: NodeJS.Timeout | undefined;
  private ended = false;
  private waitingForDrain = false;
  /** The cut's byte count was reached: nothing more passes. */
  private cut = false;
  delivered = 0;

  constructor(
    private readonly src: Socket,
    private readonly dst: Socket,
    private readonly o: { delayMs: number; windowBytes: number; bytesPerSecond: number; limit: number; onLimit: (dst: Socket) => void; count: (n: number) => void },
  ) {
    src.on('data', (chunk: Buffer) => this.take(chunk));
    src.on('end', () => {
      this.ended = true;
      this.pump();
    });
    dst.on('drain', () => {
      this.waitingForDrain = false;
      this.pump();
    });
  }

  private take(chunk: Buffer): void {
    const now = performance.now();
    let at = now + this.o.delayMs;
    if (this.o.bytesPerSecond > 0) {
      this.wireFreeAt = Math.max(this.wireFreeAt, now) + (chunk.length / this.o.bytesPerSecond) * 1000;
      at = this.wireFreeAt + this.o.delayMs;
    }
    this.held.push({ chunk, at });
    this.inFlight += chunk.length;
    if (this.inFlight >= this.o.windowBytes) this.src.pause();
    this.pump();
  }

  /** Delivers what is due, returns credit that is due, and sets one timer for whatever comes next. */
  pump(): void {
    if (this.dst.destroyed || this.cut) return;
    const now = performance.now();
    while (this.acks.length > 0 && (this.acks[0]?.at ?? Infinity) <= now) this.inFlight -= this.acks.shift()?.bytes ?? 0;
    if (this.inFlight < this.o.windowBytes && this.src.isPaused() && !this.src.destroyed) this.src.resume();
    while (!this.waitingForDrain && this.held.length > 0 && (this.held[0]?.at ?? Infinity) <= now) {
      let { chunk } = this.held.shift() as Held;
      const room = this.o.limit - this.delivered;
      if (chunk.length >= room) chunk = chunk.subarray(0, room);
      this.delivered += chunk.length;
      this.o.count(chunk.length);
      this.acks.push({ bytes: chunk.length, at: now + this.o.delayMs });
      if (chunk.length > 0 && !this.dst.write(chunk)) this.waitingForDrain = true;
      if (this.delivered >= this.o.limit) {
        this.cut = true;
        this.stop();
        this.o.onLimit(this.dst);
        return;
      }
    }
    if (this.ended && this.held.length === 0 && !this.waitingForDrain) {
      this.dst.end();
      this.ended = false;
    }
    clearTimeout(this.timer);
    const next = Math.min(this.held[0]?.at ?? Infinity, this.acks[0]?.at ?? Infinity);
    if (next !== Infinity) this.timer = setTimeout(() => this.pump(), Math.max(0, next - performance.now()));
  }

  stop(): void {
    clearTimeout(this.timer);
    this.held.length = 0;
    this.acks.length = 0;
  }
}

export async function startLinkEmulator(o: LinkOptions): Promise<LinkEmulator> {
  const delayMs = o.delayMs ?? 0;
  const windowBytes = o.windowBytes ?? 4 * MiB;
  const bytesPerSecond = o.bytesPerSecond ?? 0;
  const targetHost = o.targetHost ?? '127.0.0.1';
  const stats: LinkStats = { connections: 0, cut: 0, down: 0, up: 0 };
  const open = new Set<Socket>();

  // Half-closes pass through: each direction ends its far side only once its held bytes are delivered.
  const server = createServer({ pauseOnConnect: true, allowHalfOpen: true }, (client) => {
    const n = stats.connections++;
    const target = connect({ port: o.targetPort, host: targetHost, allowHalfOpen: true });
    const cutting = o.cut !== undefined && (o.cut.connections === undefined || n < o.cut.connections);
    const cutDirection = o.cut?.direction ?? 'down';
    const cutDown = o.cutDownAfter?.(n);
    const limit = (d: LinkDirection): number =>
      o.cutDownAfter ? (d === 'down' ? (cutDown ?? Infinity) : Infinity) : cutting && cutDirection === d ? (o.cut?.afterBytes ?? Infinity) : Infinity;
    const pipes: Pipe[] = [];
    let reset = false;
    const resetBoth = (): void => {
      if (reset) return;
      reset = true;
      for (const p of pipes) p.stop();
      for (const s of [client, target]) if (!s.destroyed) s.resetAndDestroy();
    };
    // The receiver's bytes are written: it gets them and an end; the sender a reset.
    const onLimit = (receiver: Socket): void => {
      if (reset) return;
      reset = true;
      stats.cut++;
      for (const p of pipes) p.stop();
      receiver.end();
      const sender = receiver === client ? target : client;
      if (!sender.destroyed) sender.resetAndDestroy();
    };
    let closedSockets = 0;
    for (const s of [client, target]) {
      open.add(s);
      s.setNoDelay(true);
      s.on('close', () => {
        open.delete(s);
        if (++closedSockets === 2) for (const p of pipes) p.stop();
      });
      // A reset or failure on one side is one on the other.
      s.on('error', resetBoth);
    }
    const common = { delayMs, windowBytes, bytesPerSecond, onLimit };
    target.once('connect', () => {
      pipes.push(
        new Pipe(target, client, { ...common, limit: limit('down'), count: (b) => (stats.down += b) }),
        new Pipe(client, target, { ...common, limit: limit('up'), count: (b) => (stats.up += b) }),
      );
      client.resume();
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, o.listenHost ?? '127.0.0.1', () => resolve());
  });
  const { port, address } = server.address() as AddressInfo;
  return {
    port,
    host: address,
    stats: () => ({ ...stats }),
    async close() {
      for (const s of open) s.destroy();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}
