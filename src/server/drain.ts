// Graceful shutdown of a listener: stop accepting connections, let the responses in progress finish (a blob
// transfer included) up to a grace period, then the caller closes what is left by force.
import type { Server } from 'node:net';
import type { FastifyInstance } from 'fastify';

export class Drain {
  private inflight = 0;
  private idle: (() => void) | undefined;

  /** Counts every response of `app` from its request until its connection side closes (hijacked ones too). */
  track(app: FastifyInstance): void {
    app.addHook('onRequest', async (_req, reply) => {
      this.inflight++;
      reply.raw.once('close', () => {
        this.inflight--;
        if (this.inflight === 0) this.idle?.();
      });
    });
  }

  get active(): number {
    return this.inflight;
  }

  /**
   * Stops `servers` accepting and closes their idle HTTP/1.1 keep-alive connections, then waits until no response
   * is in progress or `graceMs` has passed. Returns the responses still running at the deadline (the listeners'
   * own close then ends them, and any h2 session, by force).
   */
  async stopAccepting(servers: Array<Server & { closeIdleConnections?: () => void }>, graceMs: number): Promise<number> {
    for (const server of servers) {
      server.close();
      server.closeIdleConnections?.();
    }
    if (this.inflight === 0) return 0;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, graceMs);
      this.idle = () => {
        clearTimeout(timer);
        resolve();
      };
    });
    this.idle = undefined;
    return this.inflight;
  }
}
