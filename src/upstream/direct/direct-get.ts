// One GET read straight from the socket: the upstream side of a blob fill's byte path.
// Hand-written rather than undici because this is the hot byte path (docs/architecture.md, "Decision: blobs
// stream, verify, then commit"): undici allocates one ArrayBuffer per 16 KiB TLS record and copies each into
// llhttp's WASM memory; here the socket reads (Node's `onread`) into one reused 64 KiB buffer and the fill copies
// each chunk once, into its own batches. Connections are kept alive as undici keeps its own (direct-pool.ts): on a
// long link a small blob's wait is mostly handshakes (docs/operating.md, "Direct reads of blob bodies"). Timeouts
// and errors are undici's (connect, headers, body idle; the same error classes), so upstream-errors.ts maps both
// paths one way.
import type { IncomingHttpHeaders } from 'node:http';
import { errors as undiciErrors } from 'undici';
import type { DispatcherTimeouts } from '../dispatcher.js';
import { DirectBody } from './direct-body.js';
import type { DirectConnect } from './direct-connect.js';
import { DirectConnection, type ConnectionUser } from './direct-connection.js';
import { allowsReuse, hintedIdleMs, type DirectPool } from './direct-pool.js';
import type { DirectSlots } from './direct-slots.js';
import { parseResponseHead } from './response-head.js';

export interface DirectGetOptions {
  url: URL;
  /**
   * Sent as given, after Host. No Connection header (HTTP/1.1 keeps the connection by default), `connection: close`
   * without a pool.
   */
  headers: Record<string, string>;
  connect: DirectConnect;
  timeouts: DispatcherTimeouts;
  signal?: AbortSignal;
  /** Idle connections to take one from and to give this one back to when its answer allows it. */
  pool?: DirectPool;
  /** The bound on active reads per origin (direct-slots.ts): the read waits for a slot first. */
  slots?: DirectSlots;
}

export type DirectAnswer =
  | { kind: 'response'; status: number; headers: IncomingHttpHeaders; body: DirectBody }
  /** A head this reader does not frame (Transfer-Encoding, no Content-Length): the connection is closed. */
  | { kind: 'not-direct'; status: number; reason: string };

// CR, LF and NUL split or end a header; beyond latin1 a character has no one byte to go on the wire as.
const unsafeValue = /[\r\n\0]|[^\x00-\xff]/;
const tokenName = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

/** The request's bytes; refuses a name that is not a token and a CR, LF or NUL in the path or any value. */
export function requestHead(url: URL, headers: Record<string, string>, keepAlive = false): string {
  const target = `${url.pathname}${url.search}`;
  if (unsafeValue.test(target) || target.includes(' ')) throw new undiciErrors.InvalidArgumentError('invalid request path');
  const lines = [`GET ${target} HTTP/1.1`, `host: ${url.host}`];
  for (const [name, value] of Object.entries(headers)) {
    if (!tokenName.test(name) || unsafeValue.test(value)) throw new undiciErrors.InvalidArgumentError(`invalid header ${name}`);
    const lower = name.toLowerCase();
    if (lower !== 'host' && lower !== 'connection') lines.push(`${name}: ${value}`);
  }
  if (!keepAlive) lines.push('connection: close');
  return `${lines.join('\r\n')}\r\n\r\n`;
}

export function directGet(o: DirectGetOptions): Promise<DirectAnswer> {
  return new Promise((resolve, reject) => {
    new DirectExchange(o, resolve, reject).start();
  });
}

class DirectExchange implements ConnectionUser {
  private connection: DirectConnection | undefined;
  private request = '';
  /** The pool key of this origin and these dial options. */
  private key: string | undefined;
  /** Whether the answer lets the connection go back to the pool (and the idle time it hints at). */
  private keep: { hintMs: number | undefined } | undefined;
  /** A byte of the answer arrived on the current connection. */
  private received = false;
  /** The request is written on the current connection: bytes before it are not its answer. */
  private written = false;
  private retried = false;
  private timer: NodeJS.Timeout | undefined;
  /** When the last body bytes (or the arming of the timer, or a resume) came: the idle timeout counts from it. */
  private lastRead = 0;
  private head: Buffer | undefined;
  private body: DirectBody | undefined;
  private remaining = 0;
  private paused = false;
  private done = false;
  /** Gives back this read's slot of its origin (direct-slots.ts) once it is over. */
  private releaseSlot: (() => void) | undefined;
  private readonly onAbort = (): void => this.fail(this.o.signal?.reason ?? new undiciErrors.RequestAbortedError());

  constructor(
    private readonly o: DirectGetOptions,
    private readonly resolve: (answer: DirectAnswer) => void,
    private readonly reject: (err: unknown) => void,
  ) {}

  start(): void {
    const { url, signal, pool } = this.o;
    try {
      this.request = requestHead(url, this.o.headers, pool !== undefined);
    } catch (err) {
      return this.reject(err);
    }
    if (signal?.aborted) return this.reject(signal.reason ?? new undiciErrors.RequestAbortedError());
    signal?.addEventListener('abort', this.onAbort, { once: true });
    const slots = this.o.slots;
    if (!slots) return this.begin();
    slots.acquire(url.origin, signal).then(
      (release) => {
        this.releaseSlot = release;
        if (this.done) return release();
        this.begin();
      },
      (err: unknown) => this.fail(err as Error),
    );
  }

  /** With its slot (if bounded): on a kept connection of the origin, else a new one. */
  private begin(): void {
    const { url, pool } = this.o;
    this.key = pool?.keyOf(url, this.o.connect);
    this.send(this.key === undefined ? undefined : pool?.take(this.key));
  }

  /** Writes the request on `idle` (a kept connection) or on a new one. */
  private send(idle: DirectConnection | undefined): void {
    this.received = false;
    this.written = false;
    if (idle) {
      this.use(idle);
      idle.resume();
      // Written once the reads of this turn of the event loop are in: bytes an earlier answer's server sent after
      // its end, read just after it, then arrive before the request (read() closes the connection), never as its
      // answer.
      setImmediate(() => {
        if (!this.done && this.connection === idle) this.write();
      });
      return;
    }
    this.arm(this.o.timeouts.connect, () => new undiciErrors.ConnectTimeoutError());
    try {
      this.use(new DirectConnection(this.o.url, this.o.connect, () => this.write()));
    } catch (err) {
      // Options refused at once (a CA bundle that does not parse).
      return this.fail(err as Error);
    }
  }

  private use(connection: DirectConnection): void {
    this.connection = connection;
    connection.attach(this);
  }

  private write(): void {
    this.written = true;
    this.connection?.socket.write(this.request, 'latin1');
    this.arm(this.o.timeouts.headers, () => new undiciErrors.HeadersTimeoutError());
  }

  /**
   * The connection failed or closed. Before the head or the last announced byte, that is an error, except on a
   * kept connection the server closed before answering (it may close an idle one at any time): the GET is sent
   * once more on a new connection, as undici does for idempotent requests; never once an answer's byte arrived.
   */
  lost(err?: Error): void {
    if (this.done) return;
    if (!this.received && !this.retried && (this.connection?.served ?? 0) > 0) {
      this.retried = true;
      this.connection?.destroy();
      return this.send(undefined);
    }
    this.fail(err ?? new undiciErrors.SocketError('other side closed'));
  }

  /** Every read of the socket; false pauses it. */
  read(view: Buffer): boolean {
    if (this.done) return false;
    if (!this.written) {
      // Not an answer to this request: the connection is not used, as if the server had closed it.
      this.lost(new undiciErrors.SocketError('bytes before the request'));
      return false;
    }
    this.received = true;
    if (this.body) return this.bodyBytes(view);
    this.head = this.head ? Buffer.concat([this.head, view]) : Buffer.from(view);
    const parsed = parseResponseHead(this.head);
    if (parsed.kind === 'needs-more') return true;
    if (parsed.kind === 'error') {
      this.fail(parsed.error);
      return false;
    }
    if (parsed.kind === 'not-direct') {
      this.finish();
      this.resolve({ kind: 'not-direct', status: parsed.head.status, reason: parsed.reason });
      return false;
    }
    const { status, headers, bodyStart } = parsed.head;
    const rest = this.head.subarray(bodyStart, bodyStart + parsed.length);
    const extra = this.head.length > bodyStart + parsed.length;
    this.head = undefined;
    this.remaining = parsed.length - rest.length;
    this.keep = !extra && allowsReuse(parsed.head.version, headers) ? { hintMs: hintedIdleMs(headers) } : undefined;
    this.body = new DirectBody({ pause: () => this.pause(), resume: () => this.resume(), close: () => this.finish() }, rest, parsed.length);
    // Paused until the body is read; the idle timer runs from then on.
    this.paused = true;
    this.arm(this.o.timeouts.idle, () => new undiciErrors.BodyTimeoutError());
    this.resolve({ kind: 'response', status, headers, body: this.body });
    if (this.remaining === 0) this.complete();
    return false;
  }

  private bodyBytes(view: Buffer): boolean {
    this.lastRead = performance.now();
    if (view.length > this.remaining) this.keep = undefined;
    const bytes = view.length > this.remaining ? view.subarray(0, this.remaining) : view;
    this.remaining -= bytes.length;
    const more = bytes.length > 0 && this.body ? this.body.data(bytes) : true;
    if (this.remaining === 0) {
      this.complete();
      return false;
    }
    if (!more) this.paused = true;
    return more;
  }

  /** Every announced byte arrived: the connection is kept if the answer allows it (anything beyond: closed). */
  private complete(): void {
    const body = this.body;
    this.finish(this.keep !== undefined);
    body?.end();
  }

  private pause(): void {
    this.paused = true;
    this.connection?.pause();
  }

  private resume(): void {
    if (this.done || !this.paused) return;
    this.paused = false;
    this.lastRead = performance.now();
    this.connection?.resume();
  }

  /**
   * Arms the one timer (connect, then headers, then body idle); while the body is paused, it does not fire. 0 is
   * no timer, as undici reads its timeouts (the configuration allows 0). Body bytes only record when they came
   * (no timer work per TLS record, as in quiet-timer.ts): fired before the body was quiet for `ms`, the timer
   * waits for the rest.
   */
  private arm(ms: number, error: () => Error): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    if (ms <= 0) return;
    this.lastRead = performance.now();
    const check = (): void => {
      const quiet = performance.now() - this.lastRead;
      if (this.body && this.paused) this.schedule(check, ms);
      else if (this.body && quiet < ms) this.schedule(check, ms - quiet);
      else this.fail(error());
    };
    this.schedule(check, ms);
  }

  private schedule(check: () => void, ms: number): void {
    const timer = setTimeout(check, ms);
    timer.unref();
    this.timer = timer;
  }

  private fail(err: Error): void {
    if (this.done) return;
    const body = this.body;
    this.finish();
    if (body) body.end(err);
    else this.reject(err);
  }

  /** Closes the connection, or gives it back to the pool (`keep`), and stops every timer; idempotent. */
  private finish(keep = false): void {
    if (this.done) return;
    this.done = true;
    clearTimeout(this.timer);
    this.o.signal?.removeEventListener('abort', this.onAbort);
    const connection = this.connection;
    this.connection = undefined;
    const { pool } = this.o;
    if (keep && pool && this.key !== undefined && connection) pool.release(this.key, connection, this.keep?.hintMs);
    else connection?.destroy();
    this.releaseSlot?.();
  }
}
