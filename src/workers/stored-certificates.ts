// ACME with several workers (docs/workers.md): the lead worker renews and stores the certificates; every other
// worker serves what is stored, read again on this period, so a renewal reaches every worker within it (a
// certificate is renewed weeks before it expires).
import type { Logger } from 'pino';
import type { Acme } from '../acme/acme.js';

export const storedCertificatesEveryMs = 10 * 60_000;

/** Starts the periodic re-read; nothing to return for the challenge listener (only the lead has one). */
export function followStoredCertificates(acme: Acme, log: Logger, everyMs = storedCertificatesEveryMs): undefined {
  const timer = setInterval(() => {
    acme.reload().catch((err: unknown) => log.warn({ err }, 'reading the stored certificates failed; keeping the current ones'));
  }, everyMs);
  timer.unref();
  return undefined;
}
