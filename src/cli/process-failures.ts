// A rejection nobody handled, in a background task of a running server (a lease renewal, a transfer to a peer
// replica, a timer's callback), is logged as an error and the process keeps serving: Node's default would end it,
// and with it every transfer in flight, because of one request. Each such task is meant to handle its own failures;
// this is the net under them, and the log line is the bug report.
import type { Logger } from 'pino';

/** Installs the handler on `proc`; returns its removal. */
export function logUnhandledRejections(proc: NodeJS.EventEmitter, log: Pick<Logger, 'error'>): () => void {
  const onRejection = (reason: unknown): void => {
    log.error({ err: reason instanceof Error ? reason : new Error(String(reason)) }, 'unexpected failure in a background task; still serving');
  };
  proc.on('unhandledRejection', onRejection);
  return () => void proc.off('unhandledRejection', onRejection);
}
