// Certificates for the HTTPS listener, chosen by SNI from each certificate's SANs, reloaded when the PEM files
// change (certbot renews by replacing symlinks, so the directories are watched) or on SIGHUP.
import { watch, type FSWatcher } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { X509Certificate } from 'node:crypto';
import { createSecureContext, type SecureContext } from 'node:tls';
import type { Logger } from 'pino';

export interface CertificateFiles {
  cert: string;
  key: string;
}

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

  private publish(): void {
    this.loaded = [...this.fromFiles, ...this.managed];
    for (const listener of this.listeners) listener();
    this.log.info({ certificates: this.loaded.map((c) => ({ names: c.names, notAfter: c.notAfter })) }, 'TLS certificates loaded');
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
  get defaultPem(): { cert: string; key: string } {
    const first = this.loaded[0];
    if (!first) throw new Error('no TLS certificate loaded');
    return first.pem;
  }

  onReload(listener: () => void): void {
    this.listeners.push(listener);
  }

  contextFor(servername: string | undefined): SecureContext | undefined {
    if (!servername) return this.defaultContext;
    const name = servername.toLowerCase();
    for (const c of this.loaded) if (c.names.includes(name)) return c.context;
    const wildcard = `*.${name.slice(name.indexOf('.') + 1)}`;
    for (const c of this.loaded) if (c.names.includes(wildcard)) return c.context;
    return this.defaultContext;
  }

  sniCallback = (servername: string, cb: (err: Error | null, ctx?: SecureContext) => void): void => {
    cb(null, this.contextFor(servername));
  };

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

function loadedFrom(cert: string, key: string): Loaded {
  const x509 = new X509Certificate(cert);
  return { pem: { cert, key }, names: sanNames(x509), context: createSecureContext({ cert, key }), notAfter: x509.validTo };
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
