// Certificates for the HTTPS listener, chosen by SNI from each certificate's SANs, reloaded when the PEM files
// change (certbot renews by replacing symlinks, so the directories are watched) or on SIGHUP.
import { watch, type FSWatcher } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { X509Certificate } from 'node:crypto';
import { isIP } from 'node:net';
import { createSecureContext, DEFAULT_CIPHERS, type SecureContext, type Server as TlsServer, type TLSSocket } from 'node:tls';
import type { Logger } from 'pino';
import { LocalAcmeChallenges, type AcmeChallengeBoard } from './acme-challenges.js';

export interface CertificateFiles {
  cert: string;
  key: string;
}

/** The ALPN protocol of TLS-ALPN-01 validation handshakes (RFC 8737). */
export const acmeTlsAlpnProtocol = 'acme-tls/1';

const tls13Suites = ['TLS_AES_128_GCM_SHA256', 'TLS_AES_256_GCM_SHA384', 'TLS_CHACHA20_POLY1305_SHA256'];
/**
 * The server picks the cipher, AES-128-GCM first (as Go's TLS servers do): the registry clients (docker,
 * containerd, skopeo, podman) offer it, and it encrypts with 10 AES rounds where AES-256-GCM, which OpenSSL-based
 * clients such as curl list first, needs 14. Node's TLS 1.2 defaults are kept after it.
 */
const serverCipherOptions = {
  ciphers: [...tls13Suites, ...DEFAULT_CIPHERS.split(':').filter((c) => !tls13Suites.includes(c))].join(':'),
  honorCipherOrder: true,
};

interface Loaded {
  pem: { cert: string; key: string };
  names: string[];
  context: SecureContext;
  notAfter: string;
}

export class CertificateStore {
  private loaded: Loaded[] = [];
  private fromFiles: Loaded[] = [];
  /** Certificates held in memory by their owner (ACME), after the configured files in SNI order. */
  private managed: Loaded[] = [];
  private watchers: FSWatcher[] = [];
  private reloadTimer: NodeJS.Timeout | undefined;
  private readonly listeners: Array<() => void> = [];
  /** TLS-ALPN-01 challenge certificates by hostname, served only to acme-tls/1 handshakes (acme-challenges.ts). */
  acmeChallenges: AcmeChallengeBoard = new LocalAcmeChallenges();
  /** Set before the listener is built when TLS-ALPN-01 is in use: the listener then offers acme-tls/1. */
  answersAcmeTlsAlpn = false;

  constructor(
    private readonly files: CertificateFiles[],
    private readonly log: Logger,
  ) {}

  async load(): Promise<void> {
    const next: Loaded[] = [];
    for (const f of this.files) {
      const [cert, key] = await Promise.all([readFile(f.cert, 'utf8'), readFile(f.key, 'utf8')]);
      next.push(loadedFrom(cert, key));
    }
    this.fromFiles = next;
    this.publish();
  }

  /** Replaces the managed certificates (PEM pairs); the listener serves them from the next handshake on. */
  setManaged(pairs: Array<{ cert: string; key: string }>): void {
    this.managed = pairs.map((p) => loadedFrom(p.cert, p.key));
    this.publish();
  }

  /** What was last logged as loaded. */
  private logged: string | undefined;

  private publish(): void {
    this.loaded = [...this.fromFiles, ...this.managed];
    for (const listener of this.listeners) listener();
    // Once per change: at start the files and the stored managed certificates each publish.
    const certificates = this.loaded.map((c) => ({ names: c.names, notAfter: c.notAfter }));
    const summary = JSON.stringify(certificates);
    if (summary === this.logged) return;
    this.logged = summary;
    this.log.info({ certificates }, 'TLS certificates loaded');
  }

  /** Reload, keeping the previous certificates if the new files are broken (a half-written renewal). */
  async reload(): Promise<void> {
    try {
      await this.load();
    } catch (err) {
      this.log.error({ err }, 'TLS certificate reload failed; keeping the previous certificates');
    }
  }

  get defaultContext(): SecureContext | undefined {
    return this.loaded[0]?.context;
  }

  /** The first certificate, for clients that send no SNI (an IP address). */
  get defaultPem(): { cert: string; key: string } & typeof serverCipherOptions {
    const first = this.loaded[0];
    if (!first) throw new Error('no TLS certificate loaded');
    return { ...first.pem, ...serverCipherOptions };
  }

  onReload(listener: () => void): void {
    this.listeners.push(listener);
  }

  contextFor(servername: string | undefined): SecureContext | undefined {
    return (servername ? this.named(servername) : undefined)?.context ?? this.defaultContext;
  }

  /** Whether a certificate's SANs name this host (the default certificate does not count otherwise). */
  serves(servername: string): boolean {
    return this.named(servername) !== undefined;
  }

  /** The DNS names on the certificates, the default certificate's first. */
  dnsNames(): string[] {
    return this.loaded.flatMap((c) => c.names.filter((n) => isIP(n) === 0));
  }

  private named(servername: string): Loaded | undefined {
    const name = servername.toLowerCase();
    const exact = this.loaded.find((c) => c.names.includes(name));
    if (exact) return exact;
    const wildcard = `*.${name.slice(name.indexOf('.') + 1)}`;
    return this.loaded.find((c) => c.names.includes(wildcard));
  }

  answerAcmeTlsAlpn(): void {
    this.answersAcmeTlsAlpn = true;
  }

  setAcmeChallenge(host: string, pem: { cert: string; key: string } | undefined): void {
    this.acmeChallenges.set(host, pem);
  }

  /** When each host's answered challenge was last logged: a client repeating `acme-tls/1` handshakes must not flood the log. */
  private readonly challengeLogged = new Map<string, number>();

  /** Logs an answered challenge at most once a minute per host (only hosts with a pending challenge get here). */
  private logChallengeAnswered(host: string, remote: string | undefined): void {
    const now = Date.now();
    if (now - (this.challengeLogged.get(host) ?? 0) < 60_000) return;
    this.challengeLogged.set(host, now);
    this.log.info({ host, remote }, 'answered a TLS-ALPN-01 challenge');
  }

  /** Node's SNICallback, called with the handshaking socket as `this`. */
  readonly sniCallback = this.createSniCallback();

  private createSniCallback() {
    const store = this;
    return function sniCallback(this: TLSSocket, servername: string, cb: (err: Error | null, ctx?: SecureContext) => void): void {
      const challenge = store.answersAcmeTlsAlpn && negotiatedAlpn(this) === acmeTlsAlpnProtocol ? store.acmeChallenges.context(servername) : undefined;
      if (challenge) store.logChallengeAnswered(servername, this.remoteAddress);
      cb(null, challenge ?? store.contextFor(servername));
    };
  }

  watch(): void {
    const dirs = new Set(this.files.flatMap((f) => [dirname(f.cert), dirname(f.key)]));
    for (const dir of dirs) {
      try {
        const w = watch(dir, () => this.scheduleReload());
        w.on('error', () => undefined);
        this.watchers.push(w);
      } catch (err) {
        this.log.warn({ err, dir }, 'cannot watch certificate directory; reload with SIGHUP');
      }
    }
  }

  private scheduleReload(): void {
    clearTimeout(this.reloadTimer);
    // Renewals write several files; reload once they are all in place.
    this.reloadTimer = setTimeout(() => void this.reload(), 250);
    this.reloadTimer.unref();
  }

  close(): void {
    clearTimeout(this.reloadTimer);
    for (const w of this.watchers) w.close();
    this.watchers = [];
  }
}

/**
 * The protocol ALPN has chosen so far. Node calls SNICallback from OpenSSL's certificate callback, which in
 * TLS 1.3 runs after ALPN selection (TLS 1.2 selects later: such a validator gets the normal certificate).
 * Validators (Let's Encrypt's, pebble) are Go clients that negotiate TLS 1.3.
 */
function negotiatedAlpn(socket: TLSSocket): string | false | undefined {
  const handle = (socket as unknown as { _handle?: { getALPNNegotiatedProtocol?: () => string | false } })._handle;
  return handle?.getALPNNegotiatedProtocol?.();
}

/** Adds acme-tls/1 to what a TLS server offers by ALPN; node's http2 server fixes its list to h2 and http/1.1. */
export function offerAcmeTlsAlpn(server: TlsServer): void {
  const s = server as unknown as { ALPNProtocols?: Buffer };
  const name = Buffer.from(acmeTlsAlpnProtocol);
  s.ALPNProtocols = Buffer.concat([s.ALPNProtocols ?? Buffer.alloc(0), Buffer.from([name.length]), name]);
}

function loadedFrom(cert: string, key: string): Loaded {
  const x509 = new X509Certificate(cert);
  return { pem: { cert, key }, names: sanNames(x509), context: createSecureContext({ cert, key, ...serverCipherOptions }), notAfter: x509.validTo };
}

function sanNames(x509: X509Certificate): string[] {
  const names = (x509.subjectAltName ?? '')
    .split(',')
    .map((s) => s.trim())
    .flatMap((s) => (s.startsWith('DNS:') ? [s.slice(4).toLowerCase()] : s.startsWith('IP Address:') ? [s.slice(11)] : []));
  if (names.length === 0) {
    const cn = /CN=([^\n,]+)/.exec(x509.subject)?.[1];
    if (cn) names.push(cn.toLowerCase());
  }
  return names;
}
