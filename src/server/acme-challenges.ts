// Where the HTTPS listener finds TLS-ALPN-01 challenge certificates (RFC 8737): set by the ACME client while a
// challenge is pending, served only to acme-tls/1 handshakes for the host (certificates.ts). In one process they
// are in its memory; with several workers the lead's ACME client sets them where every worker finds them, since
// the CA's validation handshake may land on any worker (workers/shared-acme-challenges.ts, docs/workers.md).
import { createSecureContext, type SecureContext } from 'node:tls';

export interface AcmeChallengeBoard {
  /** Publishes (or withdraws, with undefined) the challenge certificate for `host`; done once every listener has it. */
  set(host: string, pem: { cert: string; key: string } | undefined): void;
  /** The challenge certificate pending for `host`, if any (asked for acme-tls/1 handshakes only). */
  context(host: string): SecureContext | undefined;
}

/** This process's challenges, in memory. */
export class LocalAcmeChallenges implements AcmeChallengeBoard {
  private readonly challenges = new Map<string, SecureContext>();

  set(host: string, pem: { cert: string; key: string } | undefined): void {
    if (pem) this.challenges.set(host.toLowerCase(), createSecureContext(pem));
    else this.challenges.delete(host.toLowerCase());
  }

  context(host: string): SecureContext | undefined {
    return this.challenges.size > 0 ? this.challenges.get(host.toLowerCase()) : undefined;
  }
}
