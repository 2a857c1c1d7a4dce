// One socket of direct reads (direct-get.ts), kept for the next GET to its origin when its last answer allows it
// (direct-pool.ts). The socket reads (Node's `onread`) into one reused buffer and hands every read to the socket's
// current user: the exchange whose request it carries, or the pool while it is idle. Per socket, never per
// request, because the `onread` callback is fixed when the socket is dialled.
import { connect as netConnect, isIP, type Socket } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import type { DirectConnect } from './direct-connect.js';

/** Whoever the socket's reads and its end go to. */
export interface ConnectionUser {
  /** Bytes read, valid only during this call; false stops reading until the socket is resumed. */
  read(view: Buffer): boolean;
  /** The socket failed (`err`), or ended or closed (no argument). */
  lost(err?: Error): void;
}

/**
 * The one read buffer of every direct connection. Safe to share: JavaScript runs one callback at a time, and each
 * chunk read into it is handed on (copied or consumed) before the callback returns.
 */
const readBuffer = Buffer.allocUnsafeSlow(64 * 1024);

export class DirectConnection {
  readonly socket: Socket;
  /** Requests this socket carried before the current one: a reused socket may have been closed meanwhile. */
  served = 0;
  private user: ConnectionUser | undefined;
  private inRead = false;
  private keepReading = false;

  /** Dials `url` (http or https); `connected` runs once the socket (and TLS) is up. Throws on refused options. */
  constructor(url: URL, connect: DirectConnect, connected: () => void) {
    const host = url.hostname.replace(/^\[|\]$/g, '');
    const https = url.protocol === 'https:';
    const port = Number(url.port || (https ? 443 : 80));
    const onread = { buffer: readBuffer, callback: (n: number, buf: Uint8Array) => this.read(Buffer.from(buf.buffer, buf.byteOffset, n)) };
    const { lookup, ...tls } = connect;
    const common = { host, port, noDelay: true, onread, ...(lookup ? { lookup } : {}) };
    this.socket = https
      ? tlsConnect({ ...common, ...tls, ALPNProtocols: ['http/1.1'], ...(isIP(host) ? {} : { servername: host }) }, connected)
      : netConnect(common, connected);
    this.socket.on('error', (err) => this.user?.lost(err));
    this.socket.on('end', () => this.user?.lost());
    this.socket.on('close', () => this.user?.lost());
  }

  /** Whether the socket may still carry a request: open both ways, nothing received since its last answer. */
  get usable(): boolean {
    const s = this.socket;
    return !s.destroyed && !s.readableEnded && s.writable && !s.writableEnded;
  }

  /** Makes `user` the one its reads and end go to. */
  attach(user: ConnectionUser): void {
    this.user = user;
  }

  /** Reads on, also when called from inside a read callback (whose `false` would stop reading again). */
  resume(): void {
    if (this.inRead) this.keepReading = true;
    this.socket.resume();
  }

  pause(): void {
    this.socket.pause();
  }

  destroy(): void {
    this.user = undefined;
    this.socket.destroy();
  }

  private read(view: Buffer): boolean {
    const user = this.user;
    if (!user) {
      this.socket.destroy();
      return false;
    }
    this.inRead = true;
    this.keepReading = false;
    try {
      return user.read(view) || this.keepReading;
    } finally {
      this.inRead = false;
    }
  }
}
