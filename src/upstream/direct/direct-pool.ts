// Idle sockets of direct reads (direct-connection.ts), kept for the next GET to the same origin as undici keeps its
// own (dispatcher.ts): without them every hop of every fill pays a TCP and TLS handshake, which on a long link is
// most of a small blob's wait (docs/operating.md, "Direct reads of blob bodies"). A socket is kept only after an
// answer read to its Content-Length exactly that allowed it (HTTP/1.1, no `connection: close`), keyed by origin
// and by the identity of the dial options (the upstream's TLS trust and the private-address guard's lookup,
// docs/security.md, "Mirror and upstream"), so a guarded hop never gets a socket dialled without the guard.
import type { IncomingHttpHeaders } from 'node:http';
import { keepAlive } from '../dispatcher.js';
import type { DirectConnect } from './direct-connect.js';
import type { DirectConnection } from './direct-connection.js';

export interface DirectPoolOptions {
  /** How long a socket stays idle when the server gave no `Keep-Alive: timeout` hint. */
  idleMs?: number;
  /** Idle sockets kept per key; more are closed. */
  maxIdle?: number;
  /**
   * Idle sockets kept in all, whatever the number of origins (a CDN spreading blobs over many hosts): one more
   * closes the one idle longest.
   */
  maxIdleTotal?: number;
}

interface Idle {
  key: string;
  connection: DirectConnection;
  timer: NodeJS.Timeout;
}

/** A server's `Keep-Alive: timeout=N` hint is trusted minus this much (undici's keepAliveTimeoutThreshold). */
const hintMarginMs = 2000;

/** Whether an answer lets its connection carry another request (RFC 9112, section 9.3). */
export function allowsReuse(version: '1.0' | '1.1', headers: IncomingHttpHeaders): boolean {
  if (version !== '1.1') return false;
  const connection = headers.connection;
  const tokens = (Array.isArray(connection) ? connection.join(',') : (connection ?? '')).toLowerCase().split(',');
  return !tokens.some((t) => t.trim() === 'close');
}

/** The idle time an answer's `Keep-Alive: timeout=N` asks for, as undici reads it; undefined without a hint. */
export function hintedIdleMs(headers: IncomingHttpHeaders): number | undefined {
  const value = headers['keep-alive'];
  const m = /(?:^|[,;\s])timeout\s*=\s*(\d+)/i.exec(Array.isArray(value) ? value.join(',') : (value ?? ''));
  if (!m) return undefined;
  return Math.min(Number(m[1]) * 1000 - hintMarginMs, keepAlive.maxTimeoutMs);
}

export class DirectPool {
  private readonly idle = new Map<string, Idle[]>();
  /** Every idle socket, the longest idle first (a Set keeps insertion order). */
  private readonly byAge = new Set<Idle>();
  private readonly ids = new WeakMap<DirectConnect, number>();
  private nextId = 1;
  private closed = false;
  private readonly idleMs: number;
  private readonly maxIdle: number;
  private readonly maxIdleTotal: number;

  constructor(options: DirectPoolOptions = {}) {
    this.idleMs = options.idleMs ?? keepAlive.timeoutMs;
    this.maxIdle = options.maxIdle ?? 8;
    this.maxIdleTotal = options.maxIdleTotal ?? 64;
  }

  /** The key of one origin dialled with one set of options (the same object: the same trust and guard). */
  keyOf(url: URL, connect: DirectConnect): string {
    let id = this.ids.get(connect);
    if (id === undefined) {
      id = this.nextId++;
      this.ids.set(connect, id);
    }
    return `${id} ${url.origin}`;
  }

  /** The most recently kept socket of `key` still open, taken out of the pool. */
  take(key: string): DirectConnection | undefined {
    const list = this.idle.get(key);
    for (let entry = list?.pop(); entry; entry = list?.pop()) {
      this.byAge.delete(entry);
      clearTimeout(entry.timer);
      // No empty list is kept: one origin seen once (a CDN host) leaves nothing behind.
      if (list?.length === 0) this.idle.delete(key);
      if (entry.connection.usable) {
        entry.connection.socket.ref();
        return entry.connection;
      }
      entry.connection.destroy();
    }
    return undefined;
  }

  /** Keeps `connection` for `key` (its answer read to the end and allowing it), else closes it. */
  release(key: string, connection: DirectConnection, hintMs?: number): void {
    const ms = hintMs ?? this.idleMs;
    const list = this.idle.get(key) ?? [];
    if (this.closed || ms <= 0 || list.length >= this.maxIdle || !connection.usable) {
      connection.destroy();
      return;
    }
    for (const oldest of this.byAge) {
      if (this.byAge.size < this.maxIdleTotal) break;
      this.drop(oldest.key, oldest);
    }
    connection.served++;
    const entry: Idle = { key, connection, timer: setTimeout(() => this.drop(key, entry), ms) };
    entry.timer.unref();
    // Idle, any byte or end is the server's: the socket is closed and forgotten.
    connection.attach({ read: () => (this.drop(key, entry), false), lost: () => this.drop(key, entry) });
    list.push(entry);
    this.idle.set(key, list);
    this.byAge.add(entry);
    // Like undici's idle sockets, an idle one does not keep the process alive.
    connection.socket.unref();
    connection.resume();
  }

  /** Closes every idle socket; sockets released later are closed at once. */
  close(): void {
    this.closed = true;
    for (const list of this.idle.values()) {
      for (const { connection, timer } of list) {
        clearTimeout(timer);
        connection.destroy();
      }
    }
    this.idle.clear();
    this.byAge.clear();
  }

  /** Keys with idle sockets (tests). */
  keys(): number {
    return this.idle.size;
  }

  /** Idle sockets of `key` (tests). */
  size(key?: string): number {
    if (key !== undefined) return this.idle.get(key)?.length ?? 0;
    let n = 0;
    for (const list of this.idle.values()) n += list.length;
    return n;
  }

  private drop(key: string, entry: Idle): void {
    this.byAge.delete(entry);
    clearTimeout(entry.timer);
    entry.connection.destroy();
    const list = this.idle.get(key);
    const at = list?.indexOf(entry) ?? -1;
    if (list && at >= 0) list.splice(at, 1);
    if (list?.length === 0) this.idle.delete(key);
  }
}
