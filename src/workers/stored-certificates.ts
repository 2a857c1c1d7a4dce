// ACME with several workers (docs/workers.md): the lead worker renews and stores the certificates; every other
// worker serves what is stored. The lead announces each certificate it installs (through the supervisor), and the
// others read the stored ones again at once; they also read them on this period, should an announcement be lost
// (a worker being replaced at that moment).
import type { Logger } from 'pino';
import type { Acme } from '../acme/acme.js';
import type { CertificateStore } from '../server/certificates.js';
import type { WorkerMessage } from './worker-context.js';

export const storedCertificatesEveryMs = 10 * 60_000;

/** Starts the periodic re-read; nothing to return for the challenge listener (only the lead has one). */
export function followStoredCertificates(acme: Acme, log: Logger, everyMs = storedCertificatesEveryMs): undefined {
  const reload = (): void => {
    acme.reload().catch((err: unknown) => log.warn({ err }, 'reading the stored certificates failed; keeping the current ones'));
  };
  const timer = setInterval(reload, everyMs);
  timer.unref();
  process.on('message', (m: unknown) => {
    if (typeof m === 'object' && m !== null && (m as { type?: unknown }).type === 'pullgate:reload-certificates') reload();
  });
  return undefined;
}

/** In the lead worker: every change of the certificates it serves (an ACME certificate installed) is announced. */
export function announceStoredCertificates(certificates: CertificateStore): void {
  certificates.onReload(() => {
    const message: WorkerMessage = { type: 'pullgate:certificates-stored' };
    process.send?.(message);
  });
}
