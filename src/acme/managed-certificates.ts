// Keeps a certificate for every ACME host in the TLS store: stored ones are served at start, missing or ageing
// ones are obtained in the background and swapped in without a restart. Until a host has its first certificate
// it is served a self-signed placeholder, so the HTTPS listener can start (clients will not trust it).
import type { Logger } from 'pino';
import type { CertificateStore } from '../server/certificates.js';
import { createLeafCertificate, type PemPair } from '../tls/self-signed.js';
import type { AcmeFiles } from './acme-files.js';
import type { CertificateIssuer } from './acme-issuer.js';
import { needsRenewal, renewalTime, validityOf } from './renewal-policy.js';

export interface ManagedCertificatesOptions {
  hosts: string[];
  files: AcmeFiles;
  issuer: CertificateIssuer;
  certificates: CertificateStore;
  log: Logger;
  clock: () => number;
  /** How often certificates are looked at. */
  checkIntervalMs?: number;
  /** After a failed attempt, how soon to try again. */
  retryDelayMs?: number;
}

const hour = 60 * 60 * 1000;

export class ManagedCertificates {
  private readonly current = new Map<string, { pair: PemPair; placeholder: boolean }>();
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private closed = false;

  constructor(private readonly o: ManagedCertificatesOptions) {}

  /** Serves what the data directory holds, and placeholders for hosts without a certificate yet. */
  async load(): Promise<void> {
    for (const host of this.o.hosts) {
      const stored = await this.o.files.readCertificate(host);
      if (stored) this.current.set(host, { pair: stored, placeholder: false });
      else this.current.set(host, { pair: await createLeafCertificate({ hosts: [host], days: 7, now: this.o.clock() }), placeholder: true });
    }
    this.publish();
  }

  /** Starts checking now and then every interval. */
  start(): void {
    this.schedule(0);
  }

  /** Obtains or renews every certificate that needs it; concurrent calls share one run. */
  check(): Promise<void> {
    this.running ??= this.checkAll().finally(() => {
      this.running = undefined;
    });
    return this.running;
  }

  close(): void {
    this.closed = true;
    clearTimeout(this.timer);
  }

  private async checkAll(): Promise<void> {
    let failed = false;
    for (const host of this.o.hosts) {
      const entry = this.current.get(host);
      if (entry && !entry.placeholder && !needsRenewal(entry.pair.cert, host, this.o.clock())) continue;
      try {
        const pair = await this.o.issuer.issue(host);
        await this.o.files.writeCertificate(host, pair);
        this.current.set(host, { pair, placeholder: false });
        this.publish();
        const validity = validityOf(pair.cert);
        this.o.log.info({ host, notAfter: new Date(validity.notAfter).toISOString(), renewAt: new Date(renewalTime(validity)).toISOString() }, 'ACME certificate installed');
      } catch (err) {
        failed = true;
        this.o.log.error({ err, host }, 'cannot obtain an ACME certificate; serving the previous one and retrying');
      }
    }
    if (failed) throw new Error('some ACME certificates could not be obtained; see the log');
  }

  private schedule(delayMs: number): void {
    if (this.closed) return;
    clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      void this.check().then(
        () => this.schedule(this.o.checkIntervalMs ?? hour),
        () => this.schedule(this.o.retryDelayMs ?? 10 * 60 * 1000),
      );
    }, delayMs);
    this.timer.unref();
  }

  private publish(): void {
    this.o.certificates.setManaged(this.o.hosts.flatMap((h) => {
      const entry = this.current.get(h);
      return entry ? [entry.pair] : [];
    }));
  }
}
