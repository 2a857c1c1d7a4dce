// Obtains one certificate per hostname from an ACME CA (RFC 8555) with acme-client: account, order,
// HTTP-01 or TLS-ALPN-01 answered by a responder, finalize with a fresh EC P-256 key, download the chain.
import { readFile } from 'node:fs/promises';
import { Agent, get } from 'node:https';
import { rootCertificates } from 'node:tls';
import acme from 'acme-client';
import type { Logger } from 'pino';
import type { AcmeConfig } from '../config/config.js';
import type { PemPair } from '../tls/self-signed.js';
import type { AcmeFiles } from './acme-files.js';
import type { ChallengeResponder } from './challenge-responder.js';

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
    private readonly responder: ChallengeResponder,
    private readonly log: Logger,
  ) {}

  /** Fails with an AcmeError carrying only a message: HTTP client errors hold requests and agents, not for logs. */
  async issue(host: string): Promise<PemPair> {
    try {
      return await this.order(host);
    } catch (err) {
      throw new AcmeError(`${host}: ${describe(err)}`);
    }
  }

  private async order(host: string): Promise<PemPair> {
    await this.reachDirectory();
    const client = await this.account();
    const order = await client.createOrder({ identifiers: [{ type: 'dns', value: host }] });
    const authorizations = await client.getAuthorizations(order);
    for (const authz of authorizations) {
      // A CA may reuse an authorization it has already validated (RFC 8555 7.1.3).
      if (authz.status === 'valid') continue;
      const challenge = authz.challenges.find((c) => c.type === this.responder.type);
      if (!challenge) throw new Error(`the CA offers no ${this.responder.type} challenge`);
      const keyAuthorization = await client.getChallengeKeyAuthorization(challenge);
      await this.responder.set(authz, challenge.token, keyAuthorization);
      try {
        await client.completeChallenge(challenge);
        await client.waitForValidStatus(challenge);
      } catch (err) {
        throw new Error(`${this.responder.type} validation failed: ${describe(err)}`);
      } finally {
        this.responder.clear(authz, challenge.token);
      }
    }
    const [key, csr] = await acme.crypto.createCsr({ commonName: host, altNames: [host] }, await acme.crypto.createPrivateEcdsaKey('P-256'));
    const finalized = await client.finalizeOrder(order, csr);
    const cert = await client.getCertificate(finalized);
    this.log.info({ host }, 'ACME certificate issued');
    return { cert, key: key.toString() };
  }

  /**
   * One plain GET of the directory first: acme-client retries a refused or untrusted connection for over a
   * minute and then fails without naming the cause; this names it at once.
   */
  private async reachDirectory(): Promise<void> {
    const agent = await this.agent();
    await new Promise<void>((resolve, reject) => {
      const req = get(this.config.directoryUrl, { ...(agent ? { agent } : {}), timeout: 30_000 }, (res) => {
        res.resume();
        if (res.statusCode === 200) resolve();
        else reject(new Error(`the ACME directory ${this.config.directoryUrl} answered ${res.statusCode ?? 'nothing'}`));
      });
      req.on('timeout', () => req.destroy(new Error('timed out')));
      req.on('error', (err: NodeJS.ErrnoException) =>
        reject(new Error(`cannot reach the ACME directory ${this.config.directoryUrl}: ${err.code ?? err.message}`)),
      );
    });
  }

  private agentPromise: Promise<Agent | undefined> | undefined;

  private agent(): Promise<Agent | undefined> {
    this.agentPromise ??= (async () => {
      if (!this.config.caBundle) return undefined;
      const bundle = await readFile(this.config.caBundle, 'utf8');
      const agent = new Agent({ ca: [...rootCertificates, bundle] });
      // acme-client sends every request through its one axios instance; a private directory (pebble, an
      // in-house CA) needs its CA trusted there, next to the public roots.
      acme.axios.defaults.httpsAgent = agent;
      return agent;
    })();
    return this.agentPromise;
  }

  private account(): Promise<acme.Client> {
    this.client ??= this.createAccount().catch((err: unknown) => {
      this.client = undefined;
      throw err;
    });
    return this.client;
  }

  private async createAccount(): Promise<acme.Client> {
    await this.agent();
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
