// Clients of the HTTPS port's SNI router in tests: verified TLS connections, echo lines, refused handshakes.
import assert from 'node:assert/strict';
import type { X509Certificate } from 'node:crypto';
import { once } from 'node:events';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { connect as tlsConnect, type TLSSocket } from 'node:tls';
import type { TestMirror } from './mirror-app.js';

export interface Connected {
  socket: TLSSocket;
  sans: string;
  alpn: string | false | null;
}

/** A verified TLS connection to `port` asking for `servername`, trusting only `ca`. */
export function tlsTo(port: number, servername: string, ca: string, extra: { alpn?: string[]; socket?: Duplex } = {}): Promise<Connected> {
  return new Promise((resolve, reject) => {
    const socket = tlsConnect(
      { host: '127.0.0.1', port, servername, ca, ...(extra.alpn ? { ALPNProtocols: extra.alpn } : {}), ...(extra.socket ? { socket: extra.socket } : {}) },
      () => resolve({ socket, sans: (socket.getPeerX509Certificate() as X509Certificate).subjectAltName ?? '', alpn: socket.alpnProtocol }),
    );
    socket.once('error', reject);
  });
}

/** One line through an echo backend. */
export function ask(socket: TLSSocket, line: string): Promise<string> {
  return new Promise((resolve, reject) => {
    let got = '';
    const onData = (chunk: Buffer): void => {
      got += chunk.toString('utf8');
      if (!got.includes('\n')) return;
      socket.off('data', onData).off('error', reject);
      resolve(got.trim());
    };
    socket.on('data', onData).once('error', reject);
    socket.write(`${line}\n`);
  });
}

/** The TLS error a refused handshake ends with. */
export function handshakeError(port: number, servername: string | undefined, ca: string): Promise<NodeJS.ErrnoException> {
  return new Promise((resolve, reject) => {
    const socket = tlsConnect({ host: '127.0.0.1', port, ...(servername ? { servername } : {}), ca }, () => reject(new Error('handshake succeeded')));
    socket.once('error', resolve);
  });
}

export const closedWithin = async (socket: Socket, ms: number): Promise<number> => {
  const started = Date.now();
  if (!socket.destroyed) await Promise.race([once(socket, 'close'), sleep(ms).then(() => assert.fail(`socket still open after ${ms} ms`))]);
  return Date.now() - started;
};

export const portOf = (m: TestMirror): number => Number(new URL(m.httpsUrl!).port);
export const passthroughLines = (m: TestMirror): Array<Record<string, unknown>> =>
  m.logs.map((l) => JSON.parse(l) as Record<string, unknown>).filter((l) => l.msg === 'passthrough');
