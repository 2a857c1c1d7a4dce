// One registry request from its first byte to its last: the access-log record its handlers fill in, the signal
// that ends its upstream work when the client leaves, the transfer slot it holds, and the single end that logs
// it, counts it and tells the admin's observer (access-log.ts).
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Logger } from 'pino';
import type { TransferHold, TransferSlot } from '../../access/transfer-slot.js';
import type { Metrics } from '../../metrics/metrics.js';
import type { PullLog } from '../../mirror/reply.js';
import { accessLog, type AccessInfo, type RequestObserver } from '../access-log.js';
import { requestAuthority } from '../request-authority.js';
import type { AdmissionRecord } from './admission.js';

/** Where a finished request is reported. */
export interface ExchangeSinks {
  log: Logger;
  onFinished?: RequestObserver;
  metrics?: Metrics;
}

export class Exchange implements AdmissionRecord {
  private readonly started = performance.now();
  readonly pull: PullLog = {};
  readonly info: AccessInfo;
  /** The host the request was sent to (validated, lower-cased), for routing by host. */
  readonly host: string | undefined;
  private readonly abort = new AbortController();
  private slot: TransferSlot | undefined;

  constructor(
    private readonly req: FastifyRequest,
    reply: FastifyReply,
    private readonly sinks: ExchangeSinks,
  ) {
    const { authority, httpVersion } = requestAuthority(req.raw);
    this.host = authority?.host;
    this.info = { method: req.method, url: req.url, host: authority?.value, http: httpVersion, client: req.ip, pull: this.pull };
    reply.raw.on('close', () => this.abort.abort());
  }

  /** Aborted when the client goes away. */
  get signal(): AbortSignal {
    return this.abort.signal;
  }

  identify(client: string): void {
    this.info.client = client;
  }

  holdTransfer(slot: TransferSlot): void {
    this.slot = slot;
  }

  /** The transfer slot the request holds, if it was given one: fills it starts keep it taken (transfer-slot.ts). */
  get transfer(): TransferHold | undefined {
    return this.slot;
  }

  /** The response is over (sent, refused, failed, or the client left): once per request. */
  finish(status: number, bytes: number, err?: unknown): void {
    this.slot?.end();
    this.slot = undefined;
    const ms = performance.now() - this.started;
    const { info, pull } = this;
    accessLog(this.sinks.log, info, status, bytes, ms, err);
    this.sinks.onFinished?.(info, status, bytes, ms);
    this.sinks.metrics?.request({
      upstream: info.upstream,
      kind: info.kind ?? 'other',
      method: this.req.method,
      status,
      cache: pull.cache,
      bytes,
      redirectedBytes: pull.redirectedBytes,
    });
  }
}
