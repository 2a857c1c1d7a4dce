// Obtains one certificate per hostname from an ACME CA (RFC 8555) with acme-client: account, order,
// HTTP-01 answered by the responder, finalize with a fresh EC P-256 key, download the chain.
import { readFile } from 'node:fs/promises';
import { Agent } from 'node:https';
import { rootCertificates } from 'node:tls';
import acme from 'acme-client';
import type { Logger } from 'pino';
import type { AcmeConfig } from '../config/config.js';
import type { PemPair } from '../tls/self-signed.js';
import type { AcmeFiles } from './acme-files.js';
import type { Http01Responder } from './http-01-responder.js';

export interface CertificateIssuer {
  issue(host: string): Promise<PemPair>;
}

export class AcmeError extends Error {
  readonly code = 'ACME_FAILED';
}

export class AcmeIssuer implements CertificateIssuer {
  private client: Promise<acme.Client> | undefined;

  constructor(
    private readonly config: AcmeConfig,
    private readonly files: AcmeFiles,
    private readonly responder: Http01Responder,
    private readonly log: Logger,
  ) {}

  async issue(host: string): Promise<PemPair> {
    const client = await this.account();
    const order = await client.createOrder({ identifiers: [{ type: 'dns', value: host }] });
    const authorizations = await client.getAuthorizations(order);
    for (const authz of authorizations) {
      // A CA may reuse an authorization it has already validated (RFC 8555 7.1.3).
      if (authz.status === 'valid') continue;
      const challenge = authz.challenges.find((c) => c.type === this.config.challenge);
      if (!challenge) throw new AcmeError(`${authz.identifier.value}: the CA offers no ${this.config.challenge} challenge`);
      const keyAuthorization = await client.getChallengeKeyAuthorization(challenge);
      this.responder.set(challenge.token, keyAuthorization);
      try {
        await client.completeChallenge(challenge);
        await client.waitForValidStatus(challenge);
      } catch (err) {
        throw new AcmeError(`${authz.identifier.value}: ${this.config.challenge} validation failed: ${describe(err)}`);
      } finally {
        this.responder.delete(challenge.token);
      }
    }
    const [key, csr] = await acme.crypto.createCsr({ commonName: host, altNames: [host] }, await acme.crypto.createPrivateEcdsaKey('P-256'));
    const finalized = await client.finalizeOrder(order, csr);
    const cert = await client.getCertificate(finalized);
    this.log.info({ host }, 'ACME certificate issued');
    return { cert, key: key.toString() };
  }

  private account(): Promise<acme.Client> {
    this.client ??= this.createAccount().catch((err: unknown) => {
      this.client = undefined;
      throw err;
    });
    return this.client;
  }

  private async createAccount(): Promise<acme.Client> {
    if (this.config.caBundle) {
      // acme-client sends every request through its one axios instance; a private directory (pebble, an
      // in-house CA) needs its CA trusted there, next to the public roots.
      const bundle = await readFile(this.config.caBundle, 'utf8');
      acme.axios.defaults.httpsAgent = new Agent({ ca: [...rootCertificates, bundle] });
    }
    const accountKey = await this.files.accountKey(async () => (await acme.crypto.createPrivateEcdsaKey('P-256')).toString());
    const client = new acme.Client({ directoryUrl: this.config.directoryUrl, accountKey });
    // With an existing key the CA returns the existing account (RFC 8555 7.3.1).
    await client.createAccount({ termsOfServiceAgreed: true, contact: [`mailto:${this.config.email}`] });
    this.log.info({ directoryUrl: this.config.directoryUrl }, 'ACME account ready');
    return client;
  }
}

function describe(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
