// One passthrough connection: dial the backend, replay the ClientHello bytes already read, then stream both ways
// untouched. A side that cannot write stops the other side's reads (backpressure: pipe() for client -> backend,
// socket-relay.ts for the heavy backend -> client direction); a FIN on one side is passed on as a FIN on the other
// (half-close), and the pipe ends when both sockets have closed.
import { connect, type Socket } from 'node:net';
import type { Backend } from '../config/passthrough.js';
import { relayInto } from './socket-relay.js';

export type CloseReason =
  /** Both sides finished with a FIN. */
  | 'done'
  | 'connect-timeout'
  | 'connect-failed'
  | 'client-error'
  | 'backend-error'
  /** No bytes either way for the idle timeout. */
  | 'idle-timeout'
  /** The listener was closed. */
  | 'shutdown';

export interface PipeResult {
  reason: CloseReason;
  /** Client -> backend, ClientHello included. */
  bytesIn: number;
  /** Backend -> client. */
  bytesOut: number;
  ms: number;
  /** The socket error behind a non-clean close, for the log. */
  error?: string;
}

export interface PipeOptions {
  connectTimeoutMs: number;
  /**
   * No bytes either way for this long closes the pipe (access.clientIdleTimeout, as for the mirror's own clients):
   * a quiet client must not hold a socket and a backend connection for ever. 0 turns it off.
   */
  idleTimeoutMs: number;
  clock: () => number;
  onClose(result: PipeResult): void;
}

// A fatal TLS alert record (RFC 8446 s6): what a client waiting for ServerHello can understand as a refusal.
export const tlsAlert = (description: number): Buffer => Buffer.from([0x15, 0x03, 0x03, 0x00, 0x02, 0x02, description]);
export const alertInternalError = 80;

export interface Pipe {
  /** Ends both sides now (listener shutdown). */
  abort(): void;
}

export function pipeToBackend(client: Socket, head: Buffer, to: Backend, o: PipeOptions): Pipe {
  const started = o.clock();
  client.allowHalfOpen = true;
  const relay = relayInto(client);
  const backend = connect({ host: to.host, port: to.port, allowHalfOpen: true, noDelay: true, onread: relay.onread });
  relay.from(backend);
  let connected = false;
  let reason: CloseReason | undefined;
  let error: string | undefined;
  const ended = { client: false, backend: false };
  let open = 2;

  const fail = (r: CloseReason, err?: Error): void => {
    if (reason !== undefined) return;
    reason = r;
    if (err) error = (err as NodeJS.ErrnoException).code ?? err.message;
    // Before the backend answered, the client still waits for a ServerHello: tell it, then close.
    if (!connected && client.writable) client.end(tlsAlert(alertInternalError));
    else client.destroy();
    backend.destroy();
  };

  const timer = setTimeout(() => fail('connect-timeout'), o.connectTimeoutMs);
  backend.once('connect', () => {
    clearTimeout(timer);
    connected = true;
    client.setNoDelay(true);
    // The client socket carries both directions (it reads the client's bytes and writes the backend's), and its
    // timer restarts on each read and write: one timer covers the whole pipe.
    if (o.idleTimeoutMs > 0) client.setTimeout(o.idleTimeoutMs, () => fail('idle-timeout'));
    backend.write(head);
    client.pipe(backend);
  });
  backend.on('error', (err) => fail(connected ? 'backend-error' : 'connect-failed', err));
  client.on('error', (err) => fail('client-error', err));
  // A FIN before the backend answered is kept: pipe() passes it on once connected (a request sent whole, then FIN).
  client.once('end', () => (ended.client = true));
  backend.once('end', () => {
    ended.backend = true;
    client.end();
  });
  const closed = (): void => {
    if (--open > 0) {
      // One side is gone for good (not a FIN, or a FIN and then closed): nothing more can flow.
      if (!(ended.client && ended.backend)) {
        if (client.destroyed && !ended.client) fail('client-error');
        if (backend.destroyed && !ended.backend) fail('backend-error');
      }
      return;
    }
    clearTimeout(timer);
    o.onClose({
      reason: reason ?? (ended.client && ended.backend ? 'done' : 'client-error'),
      bytesIn: backend.bytesWritten,
      bytesOut: client.bytesWritten,
      ms: o.clock() - started,
      ...(error !== undefined ? { error } : {}),
    });
  };
  client.once('close', closed);
  backend.once('close', closed);
  return { abort: () => fail('shutdown') };
}
