// Wiring for automatic certificates: the responder, the issuer and the renewal loop, started with the listeners.
import type { Logger } from 'pino';
import type { AcmeConfig } from '../config/config.js';
import type { CertificateStore } from '../server/certificates.js';
import { AcmeFiles } from './acme-files.js';
import { AcmeIssuer } from './acme-issuer.js';
import { Http01Responder } from './http-01-responder.js';
import { ManagedCertificates } from './managed-certificates.js';

export interface Acme {
  readonly responder: Http01Responder;
  /** Obtains or renews what needs it now (also runs on its own timer). */
  check(): Promise<void>;
  /** Starts the challenge listener and the renewal loop; returns the challenge listener's URL. */
  start(): Promise<string>;
  close(): Promise<void>;
}

export async function createAcme(config: AcmeConfig, dataDir: string, certificates: CertificateStore, log: Logger, clock: () => number): Promise<Acme> {
  const files = new AcmeFiles(dataDir);
  const responder = new Http01Responder(log);
  const issuer = new AcmeIssuer(config, files, responder, log);
  const managed = new ManagedCertificates({ hosts: config.hosts, files, issuer, certificates, log, clock });
  await managed.load();
  return {
    responder,
    check: () => managed.check(),
    async start() {
      const url = await responder.listen(config.httpListen);
      managed.start();
      return url;
    },
    async close() {
      managed.close();
      await responder.close();
    },
  };
}
