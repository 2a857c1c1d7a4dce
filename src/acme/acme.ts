// Wiring for automatic certificates: the responder, the issuer and the renewal loop, started with the listeners.
import type { Logger } from 'pino';
import type { AcmeConfig } from '../config/config.js';
import type { CertificateStore } from '../server/certificates.js';
import { AcmeFiles } from './acme-files.js';
import { Http01Responder } from './http-01-responder.js';

export interface Acme {
  /** The HTTP-01 challenge listener (unused with tls-alpn-01). */
  readonly responder: Http01Responder;
  /** Obtains or renews what needs it now (also runs on its own timer). */
  check(): Promise<void>;
  /** Reads the stored certificates again (a worker that does not renew picks up the lead worker's renewals). */
  reload(): Promise<void>;
  /** Starts the renewal loop, and the HTTP-01 challenge listener whose URL it returns. */
  start(): Promise<string | undefined>;
  close(): Promise<void>;
}

export async function createAcme(config: AcmeConfig, dataDir: string, certificates: CertificateStore, log: Logger, clock: () => number): Promise<Acme> {
  // The ACME client and the X.509 code load only here: a mirror without tls.acme starts without them.
  const [{ AcmeIssuer }, { ManagedCertificates }, { TlsAlpn01Responder }] = await Promise.all([
    import('./acme-issuer.js'),
    import('./managed-certificates.js'),
    import('./tls-alpn-01-responder.js'),
  ]);
  const files = new AcmeFiles(dataDir);
  const responder = new Http01Responder(log);
  // TLS-ALPN-01 is answered by the HTTPS listener itself (RFC 8737), on the port the CA validates: 443.
  const tlsAlpn = config.challenge === 'tls-alpn-01';
  if (tlsAlpn) certificates.answerAcmeTlsAlpn();
  const issuer = new AcmeIssuer(config, files, tlsAlpn ? new TlsAlpn01Responder(certificates) : responder, log);
  const managed = new ManagedCertificates({ hosts: config.hosts, files, issuer, certificates, log, clock });
  await managed.load();
  return {
    responder,
    check: () => managed.check(),
    reload: () => managed.load(),
    async start() {
      const url = tlsAlpn ? undefined : await responder.listen(config.httpListen);
      managed.start();
      return url;
    },
    async close() {
      managed.close();
      await responder.close();
    },
  };
}
