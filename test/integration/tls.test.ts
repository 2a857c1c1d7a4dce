import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { copyFile, mkdtemp, rm } from 'node:fs/promises';
import { connect as h2connect } from 'node:http2';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { connect as tlsConnect } from 'node:tls';
import { createTestCa, type TestCa } from '../support/pki.js';
import { startMirror, type TestMirror } from '../support/mirror-app.js';

function handshake(url: string, servername: string, ca: string, alpn: string[], ciphers?: string): Promise<{ sans: string; protocol: string | false | null; cipher: string }> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = tlsConnect({ host: hostname, port: Number(port), servername, ca, ALPNProtocols: alpn, ...(ciphers ? { ciphers } : {}) }, () => {
      const cert = socket.getPeerX509Certificate() as X509Certificate;
      resolve({ sans: cert.subjectAltName ?? '', protocol: socket.alpnProtocol, cipher: socket.getCipher().name });
      socket.end();
    });
    socket.on('error', reject);
  });
}

describe('the HTTPS listener', () => {
  let dir: string;
  let ca: TestCa;
  let mirror: TestMirror;
  let certA: string;
  let keyA: string;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'pullgate-tls-'));
    ca = await createTestCa(join(dir, 'ca'));
    const a = await ca.issue('a', ['a.mirror.test'], ['127.0.0.1']);
    const b = await ca.issue('b', ['b.mirror.test', '*.wild.mirror.test']);
    certA = join(dir, 'live-a-fullchain.pem');
    keyA = join(dir, 'live-a-privkey.pem');
    await copyFile(a.certPath, certA);
    await copyFile(a.keyPath, keyA);
    mirror = await startMirror({
      listen: { http: '127.0.0.1:0', https: '127.0.0.1:0' },
      tls: { certificates: [{ cert: certA, key: keyA }, { cert: b.certPath, key: b.keyPath }] },
      upstreams: [{ name: 'hub', registry: 'docker.io', url: 'http://127.0.0.1:9', default: true }],
    });
  });
  after(async () => {
    await mirror.close();
    await rm(dir, { recursive: true, force: true });
  });

  test('the certificate is chosen by SNI from the certificates\' SANs, wildcards included', async () => {
    assert.match((await handshake(mirror.httpsUrl!, 'a.mirror.test', ca.caCertPem, ['http/1.1'])).sans, /DNS:a\.mirror\.test/);
    assert.match((await handshake(mirror.httpsUrl!, 'b.mirror.test', ca.caCertPem, ['http/1.1'])).sans, /DNS:b\.mirror\.test/);
    assert.match((await handshake(mirror.httpsUrl!, 'x.wild.mirror.test', ca.caCertPem, ['http/1.1'])).sans, /DNS:b\.mirror\.test/);
  });

  test('ALPN offers h2 and http/1.1', async () => {
    assert.equal((await handshake(mirror.httpsUrl!, 'a.mirror.test', ca.caCertPem, ['h2', 'http/1.1'])).protocol, 'h2');
    assert.equal((await handshake(mirror.httpsUrl!, 'a.mirror.test', ca.caCertPem, ['http/1.1'])).protocol, 'http/1.1');
  });

  test('the server picks AES-128-GCM even when the client lists AES-256-GCM first (curl, OpenSSL), for every certificate', async () => {
    const curlOrder = 'TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256:TLS_AES_128_GCM_SHA256';
    for (const name of ['a.mirror.test', 'b.mirror.test', '']) {
      assert.equal((await handshake(mirror.httpsUrl!, name, ca.caCertPem, ['http/1.1'], curlOrder)).cipher, 'TLS_AES_128_GCM_SHA256', name || 'no SNI');
    }
    // A client that offers only AES-256-GCM still gets it.
    assert.equal((await handshake(mirror.httpsUrl!, 'a.mirror.test', ca.caCertPem, ['http/1.1'], 'TLS_AES_256_GCM_SHA384')).cipher, 'TLS_AES_256_GCM_SHA384');
  });

  test('the registry API answers over HTTP/2', async () => {
    const session = h2connect(mirror.httpsUrl!, { ca: ca.caCertPem, servername: 'a.mirror.test' });
    try {
      const { status, version } = await new Promise<{ status: number; version: string }>((resolve, reject) => {
        const req = session.request({ ':path': '/v2/' });
        req.on('response', (h) => resolve({ status: Number(h[':status']), version: String(h['docker-distribution-api-version']) }));
        req.on('error', reject);
        req.resume();
        req.end();
      });
      assert.equal(status, 200);
      assert.equal(version, 'registry/2.0');
    } finally {
      session.close();
    }
  });

  test('a renewed certificate file is picked up without a restart', async () => {
    const renewed = await ca.issue('a2', ['a.mirror.test', 'renewed.mirror.test'], ['127.0.0.1']);
    await copyFile(renewed.keyPath, keyA);
    await copyFile(renewed.certPath, certA);
    let sans = '';
    for (let i = 0; i < 50 && !sans.includes('renewed'); i++) {
      await new Promise((r) => setTimeout(r, 100));
      sans = (await handshake(mirror.httpsUrl!, 'a.mirror.test', ca.caCertPem, ['http/1.1'])).sans;
    }
    assert.match(sans, /renewed\.mirror\.test/);
  });

  test('a reload request (SIGHUP) with broken files keeps serving the previous certificates', async () => {
    await copyFile(join(dir, 'ca', 'ca.crt'), keyA).catch(() => undefined);
    await mirror.app.reloadCertificates();
    assert.match((await handshake(mirror.httpsUrl!, 'b.mirror.test', ca.caCertPem, ['http/1.1'])).sans, /DNS:b\.mirror\.test/);
  });
});
