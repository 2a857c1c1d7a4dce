// One GET on a connection of its own, read straight from the socket: the upstream side of a blob fill's byte path.
// Hand-written rather than undici because this is the hot byte path (docs/architecture.md, "Decision: blobs
// stream, verify, then commit"): undici allocates one ArrayBuffer per 16 KiB TLS record and copies each into
// llhttp's WASM memory; here the socket reads (Node's `onread`) into one reused 64 KiB buffer and the fill copies
// each chunk once, into its own batches. No pooling (`connection: close`): one handshake per hop is noise next to a
// big body, but every fill asks for a direct read, and on a long link a small blob's wait is mostly handshakes
// (docs/operating.md, "Direct reads of blob bodies"; `directReads: false` turns them off). Timeouts and errors
// are undici's (connect, headers, body idle; the same error classes), so upstream-errors.ts maps both paths one way.
import type { IncomingHttpHeaders } from 'node:http';
import { connect as netConnect, isIP, type Socket } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import { errors as undiciErrors } from 'undici';
import type { DispatcherTimeouts } from '../dispatcher.js';
import { DirectBody } from './direct-body.js';
import type { DirectConnect } from './direct-connect.js';
import { parseResponseHead } from './response-head.js';

export interface DirectGetOptions {
  url: URL;
  /** Sent as given, after Host; `connection: close` is added. */
  headers: Record<string, string>;
  connect: DirectConnect;
  timeouts: DispatcherTimeouts;
  signal?: AbortSignal;
}

export type DirectAnswer =
  | { kind: 'response'; status: number; headers: IncomingHttpHeaders; body: DirectBody }
  /** A head this reader does not frame (Transfer-Encoding, no Content-Length): the connection is closed. */
  | { kind: 'not-direct'; status: number; reason: string };

/**
 * The one read buffer of every direct connection. Safe to share: JavaScript runs one callback at a time, and each
 * chunk read into it is handed on (copied or consumed) before the callback returns.
 */
const readBuffer = Buffer.allocUnsafeSlow(64 * 1024);

// CR, LF and NUL split or end a header; beyond latin1 a character has no one byte to go on the wire as.
const unsafeValue = /[\r\n\0]|[^\x00-\xff]/;
const tokenName = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

/** The request's bytes; refuses a name that is not a token and a CR, LF or NUL in the path or any value. */
export function requestHead(url: URL, headers: Record<string, string>): string {
  const target = `${url.pathname}${url.search}`;
  if (unsafeValue.test(target) || target.includes(' ')) throw new undiciErrors.InvalidArgumentError('invalid request path');
  const lines = [`GET ${target} HTTP/1.1`, `host: ${url.host}`];
  for (const [name, value] of Object.entries(headers)) {
    if (!tokenName.test(name) || unsafeValue.test(value)) throw new undiciErrors.InvalidArgumentError(`invalid header ${name}`);
    const lower = name.toLowerCase();
    if (lower !== 'host' && lower !== 'connection') lines.push(`${name}: ${value}`);
  }
  lines.push('connection: close');
  return `${lines.join('\r\n')}\r\n\r\n`;
}

export function directGet(o: DirectGetOptions): Promise<DirectAnswer> {
  return new Promise((resolve, reject) => {
    new DirectExchange(o, resolve, reject).start();
  });
}

class DirectExchange {
  private socket: Socket | undefined;
  private timer: NodeJS.Timeout | undefined;
  private head: Buffer | undefined;
  private body: DirectBody | undefined;
  private remaining = 0;
  private paused = false;
  private done = false;
  private readonly onAbort = (): void => this.fail(this.o.signal?.reason ?? new undiciErrors.RequestAbortedError());

  constructor(
    private readonly o: DirectGetOptions,
    private readonly resolve: (answer: DirectAnswer) => void,
    private readonly reject: (err: unknown) => void,
  ) {}

  start(): void {
    const { url, signal } = this.o;
    let request: string;
    try {
      request = requestHead(url, this.o.headers);
    } catch (err) {
      return this.reject(err);
    }
    if (signal?.aborted) return this.reject(signal.reason ?? new undiciErrors.RequestAbortedError());
    signal?.addEventListener('abort', this.onAbort, { once: true });
    this.arm(this.o.timeouts.connect, () => new undiciErrors.ConnectTimeoutError());
    let socket: Socket;
    try {
      socket = this.dial(url, () => {
        socket.write(request, 'latin1');
        this.arm(this.o.timeouts.headers, () => new undiciErrors.HeadersTimeoutError());
      });
    } catch (err) {
      // Options refused at once (a CA bundle that does not parse).
      return this.fail(err as Error);
    }
    this.socket = socket;
    socket.on('error', (err) => this.fail(err));
    socket.on('end', () => this.closed());
    socket.on('close', () => this.closed());
  }

  private dial(url: URL, connected: () => void): Socket {
    const host = url.hostname.replace(/^\[|\]$/g, '');
    const https = url.protocol === 'https:';
    const port = Number(url.port || (https ? 443 : 80));
    const onread = { buffer: readBuffer, callback: (n: number, buf: Uint8Array) => this.read(Buffer.from(buf.buffer, buf.byteOffset, n)) };
    const { lookup, ...tls } = this.o.connect;
    const common = { host, port, noDelay: true, onread, ...(lookup ? { lookup } : {}) };
    if (!https) return netConnect(common, connected);
    return tlsConnect({ ...common, ...tls, ALPNProtocols: ['http/1.1'], ...(isIP(host) ? {} : { servername: host }) }, connected);
  }

  /** Every read of the socket; false pauses it. */
  private read(view: Buffer): boolean {
    if (this.done) return false;
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
    this.head = undefined;
    this.remaining = parsed.length - rest.length;
    this.body = new DirectBody({ pause: () => this.pause(), resume: () => this.resume(), close: () => this.finish() }, rest);
    // Paused until the body is read; the idle timer runs from then on.
    this.paused = true;
    this.arm(this.o.timeouts.idle, () => new undiciErrors.BodyTimeoutError());
    this.resolve({ kind: 'response', status, headers, body: this.body });
    if (this.remaining === 0) this.complete();
    return false;
  }

  private bodyBytes(view: Buffer): boolean {
    this.timer?.refresh();
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

  /** Every announced byte arrived: anything beyond is ignored, the connection closed. */
  private complete(): void {
    const body = this.body;
    this.finish();
    body?.end();
  }

  private pause(): void {
    this.paused = true;
    this.socket?.pause();
  }

  private resume(): void {
    if (this.done || !this.paused) return;
    this.paused = false;
    this.timer?.refresh();
    this.socket?.resume();
  }

  /** The socket ended or closed: before the head or the last announced byte, that is an error. */
  private closed(): void {
    if (this.done) return;
    this.fail(new undiciErrors.SocketError('other side closed'));
  }

  /**
   * Arms the one timer (connect, then headers, then body idle); while the body is paused, it does not fire. 0 is
   * no timer, as undici reads its timeouts (the configuration allows 0).
   */
  private arm(ms: number, error: () => Error): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    if (ms <= 0) return;
    const timer = setTimeout(() => {
      if (this.body && this.paused) timer.refresh();
      else this.fail(error());
    }, ms);
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

  /** Closes the connection and stops every timer; idempotent. */
  private finish(): void {
    if (this.done) return;
    this.done = true;
    clearTimeout(this.timer);
    this.o.signal?.removeEventListener('abort', this.onAbort);
    this.socket?.destroy();
  }
}
