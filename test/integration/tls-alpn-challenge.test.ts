import assert from 'node:assert/strict';
import { createHash, X509Certificate } from 'node:crypto';
import { createSecureServer, type Http2SecureServer } from 'node:http2';
import type { AddressInfo } from 'node:net';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { connect as tlsConnect } from 'node:tls';
import type acme from 'acme-client';
import pino from 'pino';
import { TlsAlpn01Responder } from '../../src/acme/tls-alpn-01-responder.js';
import { CertificateStore, offerAcmeTlsAlpn } from '../../src/server/certificates.js';
import { createDevelopmentCa, createLeafCertificate } from '../../src/tls/self-signed.js';
import { SharedAcmeChallenges } from '../../src/workers/shared-acme-challenges.js';

const acmeIdentifierOid = '1.3.6.1.5.5.7.1.31';

/** Handshakes offering `alpn`; returns the negotiated protocol and the certificate presented. */
function handshake(port: number, servername: string, alpn: string[], maxVersion: 'TLSv1.2' | 'TLSv1.3' = 'TLSv1.3'): Promise<{ protocol: string | false | null; cert: X509Certificate }> {
  return new Promise((resolve, reject) => {
    const socket = tlsConnect({ host: '127.0.0.1', port, servername, ALPNProtocols: alpn, rejectUnauthorized: false, maxVersion }, () => {
      resolve({ protocol: socket.alpnProtocol, cert: socket.getPeerX509Certificate() as X509Certificate });
      socket.destroy();
    });
    socket.on('error', reject);
  });
}

/** The acmeIdentifier extension's value (RFC 8737 3: an OCTET STRING of the SHA-256 of the key authorization). */
function acmeIdentifier(cert: X509Certificate): Buffer | undefined {
  const der = cert.raw;
  const oid = Buffer.from([0x06, 0x08, 0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x01, 0x1f]);
  const at = der.indexOf(oid);
  if (at === -1) return undefined;
  // OID, BOOLEAN TRUE (critical), OCTET STRING wrapping OCTET STRING (32 bytes).
  const rest = der.subarray(at + oid.length);
  assert.deepEqual([...rest.subarray(0, 3)], [0x01, 0x01, 0xff], 'the extension is critical');
  return rest.subarray(3 + 2 + 2, 3 + 2 + 2 + 32);
}

/** A listener as the registry server builds it: h2 + http/1.1, the store's SNICallback, acme-tls/1 offered. */
async function listener(store: CertificateStore): Promise<{ server: Http2SecureServer; port: number }> {
  const server = createSecureServer({ ...store.defaultPem, allowHTTP1: true, SNICallback: store.sniCallback }, (_req, res) => res.end());
  offerAcmeTlsAlpn(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, port: (server.address() as AddressInfo).port };
}

describe('TLS-ALPN-01 challenge certificates on the HTTPS listener', () => {
  let store: CertificateStore;
  let server: Http2SecureServer;
  let port: number;
  const authz = { identifier: { type: 'dns', value: 'a.mirror.test' } } as acme.Authorization;

  before(async () => {
    const ca = await createDevelopmentCa({ name: 'test', days: 1 });
    store = new CertificateStore([], pino({ level: 'silent' }));
    store.setManaged([await createLeafCertificate({ hosts: ['a.mirror.test'], days: 1 }, ca)]);
    store.answerAcmeTlsAlpn();
    ({ server, port } = await listener(store));
  });
  after(() => new Promise<void>((resolve) => server.close(() => resolve())));

  test('only an acme-tls/1 handshake for the host gets the challenge certificate while it is pending', async () => {
    await new TlsAlpn01Responder(store).set(authz, 'token', 'token.thumbprint');
    const validator = await handshake(port, 'a.mirror.test', ['acme-tls/1']);
    assert.equal(validator.protocol, 'acme-tls/1');
    assert.equal(validator.cert.subjectAltName, 'DNS:a.mirror.test');
    assert.deepEqual(acmeIdentifier(validator.cert), createHash('sha256').update('token.thumbprint').digest());
    const client = await handshake(port, 'a.mirror.test', ['h2', 'http/1.1']);
    assert.equal(client.protocol, 'h2');
    assert.equal(acmeIdentifier(client.cert), undefined);
    const otherHost = await handshake(port, 'b.mirror.test', ['acme-tls/1']);
    assert.equal(acmeIdentifier(otherHost.cert), undefined);
  });

  test('repeated acme-tls/1 handshakes for a pending challenge are logged once, not once each', async () => {
    const lines: string[] = [];
    const ca = await createDevelopmentCa({ name: 'test', days: 1 });
    const logged = new CertificateStore([], pino({ level: 'info' }, { write: (line: string) => void lines.push(line) }));
    logged.setManaged([await createLeafCertificate({ hosts: ['a.mirror.test'], days: 1 }, ca)]);
    logged.answerAcmeTlsAlpn();
    const own = await listener(logged);
    try {
      await new TlsAlpn01Responder(logged).set(authz, 'token', 'token.thumbprint');
      for (let i = 0; i < 20; i++) await handshake(own.port, 'a.mirror.test', ['acme-tls/1']);
      assert.equal(lines.filter((l) => l.includes('answered a TLS-ALPN-01 challenge')).length, 1);
    } finally {
      await new Promise<void>((resolve) => own.server.close(() => resolve()));
    }
  });

  test('a TLS 1.2 validator gets the normal certificate: ALPN is chosen after the certificate there', async () => {
    assert.equal(acmeIdentifier((await handshake(port, 'a.mirror.test', ['acme-tls/1'], 'TLSv1.2')).cert), undefined);
  });

  test('once the challenge is withdrawn, acme-tls/1 handshakes get the normal certificate again', async () => {
    new TlsAlpn01Responder(store).clear(authz);
    assert.equal(acmeIdentifier((await handshake(port, 'a.mirror.test', ['acme-tls/1'])).cert), undefined);
  });
});

describe('TLS-ALPN-01 challenge certificates with several workers', () => {
  let dir: string;
  const workers: Array<{ store: CertificateStore; server: Http2SecureServer; port: number }> = [];
  const authz = { identifier: { type: 'dns', value: 'w.mirror.test' } } as acme.Authorization;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'pullgate-alpn-workers-'));
    const ca = await createDevelopmentCa({ name: 'test', days: 1 });
    const leaf = await createLeafCertificate({ hosts: ['w.mirror.test'], days: 1 }, ca);
    // Two workers: each its own certificate store and listener, the machine's challenges in one data directory.
    for (let i = 0; i < 2; i++) {
      const store = new CertificateStore([], pino({ level: 'silent' }));
      store.setManaged([leaf]);
      store.answerAcmeTlsAlpn();
      store.acmeChallenges = new SharedAcmeChallenges(dir);
      workers.push({ store, ...(await listener(store)) });
    }
  });
  after(async () => {
    for (const w of workers) await new Promise<void>((resolve) => w.server.close(() => resolve()));
    await rm(dir, { recursive: true, force: true });
  });

  test('a challenge the lead\'s ACME client sets is answered by every worker, and withdrawn from every worker', async () => {
    const [lead, other] = workers as [(typeof workers)[0], (typeof workers)[0]];
    await new TlsAlpn01Responder(lead.store).set(authz, 'token', 'token.thumbprint');
    for (const w of workers) {
      const validator = await handshake(w.port, 'w.mirror.test', ['acme-tls/1']);
      assert.deepEqual(acmeIdentifier(validator.cert), createHash('sha256').update('token.thumbprint').digest());
      assert.equal(acmeIdentifier((await handshake(w.port, 'w.mirror.test', ['h2'])).cert), undefined, 'a client gets the normal certificate');
    }
    // A renewal's new challenge for the host replaces the previous one in every worker.
    await new TlsAlpn01Responder(lead.store).set(authz, 'token2', 'token2.thumbprint');
    assert.deepEqual(acmeIdentifier((await handshake(other.port, 'w.mirror.test', ['acme-tls/1'])).cert), createHash('sha256').update('token2.thumbprint').digest());
    new TlsAlpn01Responder(lead.store).clear(authz);
    for (const w of workers) assert.equal(acmeIdentifier((await handshake(w.port, 'w.mirror.test', ['acme-tls/1'])).cert), undefined);
  });
});
