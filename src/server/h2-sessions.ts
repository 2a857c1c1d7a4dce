// The h2 sessions of the HTTPS listener: an idle session (no open stream) closes after the keep-alive time, as an
// idle HTTP/1.1 connection does, and closing the listener ends them all, as forceCloseConnections does for
// HTTP/1.1. A session's inactivity timer stays the server's (registry-listeners.ts): a stream stalled by a
// client that stops reading is cut after access.clientIdleTimeout, as a stalled HTTP/1.1 connection is.
import type { Http2SecureServer, ServerHttp2Session } from 'node:http2';

export class H2Sessions {
  private readonly open = new Set<ServerHttp2Session>();

  constructor(private readonly keepAliveMs: number) {}

  track(server: Http2SecureServer): void {
    server.on('session', (session) => this.add(session));
  }

  /** Ends every open session (the listener is closing). */
  destroyAll(): void {
    for (const session of this.open) session.destroy();
  }

  private add(session: ServerHttp2Session): void {
    this.open.add(session);
    let streams = 0;
    let idle: NodeJS.Timeout | undefined;
    const keepAlive = (): void => {
      idle = setTimeout(() => session.close(), this.keepAliveMs);
      idle.unref();
    };
    keepAlive();
    session.on('stream', (stream) => {
      streams++;
      clearTimeout(idle);
      stream.once('close', () => {
        if (--streams === 0 && !session.closed && !session.destroyed) keepAlive();
      });
    });
    session.on('close', () => {
      clearTimeout(idle);
      this.open.delete(session);
    });
  }
}
