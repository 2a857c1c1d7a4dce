import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import { connect as h2connect } from 'node:http2';
import { connect as netConnect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, test } from 'node:test';
import { freePort } from '../support/loopback-listener.js';
import { startMirror, type TestMirror } from '../support/mirror-app.js';
import { startRawBackend, startTlsEcho, tricklingConnection, type Backend } from '../support/passthrough-backends.js';
import { createTestCa, type TestCa } from '../support/pki.js';
import { captureClientHello, inRecords } from '../support/tls-hello.js';
import { ask, closedWithin, handshakeError, passthroughLines, portOf, tlsTo } from '../support/sni-clients.js';

const hub = { name: 'hub', registry: 'docker.io', url: 'http://127.0.0.1:9', default: true };

describe('the HTTPS port routes by SNI', () => {
  let mirrorCertificates: Array<{ cert: string; key: string }> = [];
  let dir: string;
  let mirrorCa: TestCa;
  let backendCa: TestCa;
  let echo: Backend;
  let wild: Backend;
  let halfClose: Backend;
  let flood: Backend;
  let mirror: TestMirror;
  let strict: TestMirror;
  const halfCloseSeen: Buffer[] = [];
  const denied = new Set<string>();
  const admitCalls: Array<[string | undefined, string]> = [];
  const floodBytes = 128 * 1024 * 1024;
  const flooded = { flushedAtPause: 0, sha256: '' };

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'pullgate-sni-'));
    mirrorCa = await createTestCa(join(dir, 'mirror-ca'));
    backendCa = await createTestCa(join(dir, 'backend-ca'));
    const mirrorCert = await mirrorCa.issue('mirror', ['mirror.sni.test'], ['127.0.0.1']);
    const backendCert = await backendCa.issue('backend', ['registry.secure.test', '*.wild.secure.test']);
    echo = await startTlsEcho('echo', backendCert);
    wild = await startTlsEcho('wild', backendCert);
    // Reads everything up to the client's FIN, then answers with what it got and closes its side.
    halfClose = await startRawBackend((s) => {
      const got: Buffer[] = [];
      s.on('data', (d: Buffer) => got.push(d));
      s.on('end', () => {
        const all = Buffer.concat(got);
        halfCloseSeen.push(all);
        s.end(`received ${all.length} bytes after your FIN`);
      });
    });
    // Writes distinct pieces as fast as the connection takes them, honouring write() === false, hashing what it
    // sends and recording what the kernel took: bytes reordered or overwritten in Pullgate would change the hash.
    flood = await startRawBackend((s) => {
      const noise = randomBytes(1024 * 1024);
      const hash = createHash('sha256');
      let sent = 0;
      const pump = (): void => {
        while (sent < floodBytes) {
          const piece = Buffer.from(noise);
          piece.writeUInt32BE(sent / piece.length, (sent / piece.length) % (piece.length - 4));
          hash.update(piece);
          sent += piece.length;
          if (!s.write(piece)) return void s.once('drain', pump);
        }
        flooded.sha256 = hash.digest('hex');
        s.end();
      };
      s.once('data', () => {
        pump();
        setTimeout(() => (flooded.flushedAtPause = s.bytesWritten - s.writableLength), 1_000);
      });
    });
    const refusedPort = await freePort();
    const passthrough = [
      { sni: 'registry.secure.test', to: echo.to },
      { sni: '*.wild.secure.test', to: wild.to },
      { sni: 'half.raw.test', to: halfClose.to },
      { sni: 'flood.raw.test', to: flood.to },
      { sni: 'down.secure.test', to: `127.0.0.1:${refusedPort}` },
    ];
    const certificates = [{ cert: mirrorCert.certPath, key: mirrorCert.keyPath }];
    mirrorCertificates = certificates;
    mirror = await startMirror(
      { listen: { https: '127.0.0.1:0' }, tls: { certificates, passthrough, helloTimeout: '5s' }, upstreams: [hub] },
      {
        admitPassthrough: (remote, sni) => {
          admitCalls.push([remote, sni]);
          return !denied.has(sni);
        },
      },
    );
    strict = await startMirror({ listen: { https: '127.0.0.1:0' }, tls: { certificates, passthrough, unknownSni: 'refuse', helloTimeout: '300ms' }, upstreams: [hub] });
  });
  after(async () => {
    await mirror?.close();
    await strict?.close();
    await Promise.all([echo, wild, halfClose, flood].map((b) => b?.close()));
    await rm(dir, { recursive: true, force: true });
  });

  test('a passthrough name reaches its backend, which shows its own certificate and chooses ALPN itself', async () => {
    const c = await tlsTo(portOf(mirror), 'registry.secure.test', backendCa.caCertPem, { alpn: ['x-backend', 'h2'] });
    assert.match(c.sans, /DNS:registry\.secure\.test/);
    assert.equal(c.alpn, 'x-backend');
    assert.equal(await ask(c.socket, 'ping'), 'echo registry.secure.test ping');
    c.socket.end();
    await once(c.socket, 'close');
    await sleep(50);
    const line = passthroughLines(mirror).find((l) => l.sni === 'registry.secure.test');
    assert.ok(line, mirror.logs.join('\n'));
    assert.equal(line.close, 'done');
    assert.equal(line.backend, echo.to);
    assert.deepEqual(line.alpn, ['x-backend', 'h2']);
    assert.ok((line.bytesIn as number) > 300 && (line.bytesOut as number) > 300, JSON.stringify(line));
    const stats = mirror.app.sni!.stats().routes.find((r) => r.sni === 'registry.secure.test');
    assert.equal(stats?.closes.done, 1);
    assert.equal(stats?.bytesIn, line.bytesIn);
    // The same counters in the Prometheus exposition (what the admin listener's /metrics serves).
    const { body } = await mirror.app.metrics.exposition();
    assert.match(body, new RegExp(`^pullgate_passthrough_connections_total\\{sni="registry\\.secure\\.test",backend="${echo.to.replace(/[.[\]]/g, '\\$&')}"\\} [1-9]`, 'm'));
    assert.match(body, new RegExp(`^pullgate_passthrough_client_bytes_total\\{sni="registry\\.secure\\.test",[^}]*\\} ${String(line.bytesIn)}$`, 'm'));
  });

  test('a wildcard route takes any one-label name under it', async () => {
    const c = await tlsTo(portOf(mirror), 'x1.wild.secure.test', backendCa.caCertPem);
    assert.equal(await ask(c.socket, 'hi'), 'wild x1.wild.secure.test hi');
    c.socket.destroy();
  });

  test('a mirror hostname on the same port is terminated with the mirror\'s certificate, h2 included', async () => {
    const c = await tlsTo(portOf(mirror), 'mirror.sni.test', mirrorCa.caCertPem, { alpn: ['h2', 'http/1.1'] });
    assert.match(c.sans, /DNS:mirror\.sni\.test/);
    assert.equal(c.alpn, 'h2');
    c.socket.destroy();
    const session = h2connect(mirror.httpsUrl!, { ca: mirrorCa.caCertPem, servername: 'mirror.sni.test' });
    try {
      const status = await new Promise<number>((resolve, reject) => {
        const req = session.request({ ':path': '/v2/' });
        req.on('response', (h) => resolve(Number(h[':status'])));
        req.on('error', reject);
        req.resume();
        req.end();
      });
      assert.equal(status, 200);
    } finally {
      session.close();
    }
  });

  test('an HTTP/1.1 keep-alive connection carries several requests through the router', async () => {
    const c = await tlsTo(portOf(mirror), 'mirror.sni.test', mirrorCa.caCertPem, { alpn: ['http/1.1'] });
    let got = '';
    c.socket.on('data', (d: Buffer) => (got += d.toString('latin1')));
    for (let i = 1; i <= 3; i++) {
      c.socket.write('GET /v2/ HTTP/1.1\r\nHost: mirror.sni.test\r\n\r\n');
      while ((got.match(/HTTP\/1\.1 200/g) ?? []).length < i) await once(c.socket, 'data');
    }
    c.socket.destroy();
  });

  test('an unknown name gets the default certificate by default', async () => {
    const err = await handshakeError(portOf(mirror), 'unknown.test', mirrorCa.caCertPem);
    // The default certificate does not name unknown.test: the client's own check fails, the server served it.
    assert.equal(err.code, 'ERR_TLS_CERT_ALTNAME_INVALID');
  });

  test('with unknownSni: refuse, an unknown name and a hello without SNI get an unrecognized_name alert', async () => {
    assert.equal((await handshakeError(portOf(strict), 'unknown.test', mirrorCa.caCertPem)).code, 'ERR_SSL_TLSV1_UNRECOGNIZED_NAME');
    assert.equal((await handshakeError(portOf(strict), undefined, mirrorCa.caCertPem)).code, 'ERR_SSL_TLSV1_UNRECOGNIZED_NAME');
    assert.equal(strict.app.sni!.stats().refused, 2);
    const c = await tlsTo(portOf(strict), 'mirror.sni.test', mirrorCa.caCertPem);
    c.socket.destroy();
  });

  test('a ClientHello sent one byte per TCP segment still routes, to a backend and to the mirror', async () => {
    const toBackend = tricklingConnection(portOf(mirror));
    const c = await tlsTo(portOf(mirror), 'registry.secure.test', backendCa.caCertPem, { socket: toBackend });
    assert.ok(toBackend.writes > 200, `${toBackend.writes} writes`);
    assert.equal(await ask(c.socket, 'slowly'), 'echo registry.secure.test slowly');
    c.socket.destroy();
    const toMirror = tricklingConnection(portOf(mirror));
    const m = await tlsTo(portOf(mirror), 'mirror.sni.test', mirrorCa.caCertPem, { socket: toMirror, alpn: ['http/1.1'] });
    assert.match(m.sans, /DNS:mirror\.sni\.test/);
    m.socket.write('GET /v2/ HTTP/1.1\r\nHost: mirror.sni.test\r\nConnection: close\r\n\r\n');
    let got = '';
    for await (const chunk of m.socket) got += (chunk as Buffer).toString('latin1');
    assert.match(got, /^HTTP\/1\.1 200/);
  });

  test('garbage instead of a ClientHello is dropped without harming other connections', async () => {
    const open = await tlsTo(portOf(mirror), 'registry.secure.test', backendCa.caCertPem);
    const before = mirror.app.sni!.stats().dropped['not a TLS handshake record'] ?? 0;
    const garbage = netConnect({ host: '127.0.0.1', port: portOf(mirror) });
    garbage.on('error', () => undefined);
    garbage.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n');
    await closedWithin(garbage, 2_000);
    const binary = netConnect({ host: '127.0.0.1', port: portOf(mirror) });
    binary.on('error', () => undefined);
    binary.write(Buffer.from([0x16, 0x03, 0x01, 0x00, 0x20, 0x02, 0xff, 0xff]));
    await closedWithin(binary, 2_000);
    assert.equal(await ask(open.socket, 'still here'), 'echo registry.secure.test still here');
    open.socket.destroy();
    const fresh = await tlsTo(portOf(mirror), 'mirror.sni.test', mirrorCa.caCertPem);
    fresh.socket.destroy();
    const dropped = mirror.app.sni!.stats().dropped;
    assert.equal(dropped['not a TLS handshake record'], before + 1);
    assert.equal(dropped['first handshake message is not a ClientHello'], 1);
  });

  test('a slow ClientHello is dropped after tls.helloTimeout', async () => {
    const slow = netConnect({ host: '127.0.0.1', port: portOf(strict) });
    slow.on('error', () => undefined);
    slow.write(Buffer.from([0x16, 0x03, 0x01]));
    const ms = await closedWithin(slow, 3_000);
    assert.ok(ms >= 250, `closed after ${ms} ms`);
    assert.equal(strict.app.sni!.stats().dropped['ClientHello timeout'], 1);
  });

  test('an oversized ClientHello is dropped once the bounded buffer is full', async () => {
    // A handshake just under 32 KiB in 64-byte records: the record headers carry it past the 32 KiB bound.
    const message = Buffer.concat([Buffer.from([1, 0, 0x7f, 0x00]), Buffer.alloc(0x7f00, 0x41)]);
    const records = inRecords(message, 64);
    const big = netConnect({ host: '127.0.0.1', port: portOf(mirror) });
    big.on('error', () => undefined);
    let written = 0;
    for (let i = 0; i < records.length && !big.destroyed && written < 256 * 1024; i += 4096) {
      big.write(records.subarray(i, i + 4096));
      written += 4096;
      await sleep(1);
    }
    await closedWithin(big, 2_000);
    assert.equal(mirror.app.sni!.stats().dropped['ClientHello too large'], 1);
  });

  test('a client\'s FIN reaches the backend, which can still answer on its own side', async () => {
    const hello = await captureClientHello({ servername: 'half.raw.test' });
    const s = netConnect({ host: '127.0.0.1', port: portOf(mirror), allowHalfOpen: true });
    const answer: Buffer[] = [];
    s.on('data', (d: Buffer) => answer.push(d));
    s.end(Buffer.concat([hello, Buffer.from('request body')]));
    await once(s, 'end');
    assert.equal(Buffer.concat(answer).toString(), `received ${hello.length + 12} bytes after your FIN`);
    assert.deepEqual(halfCloseSeen.at(-1), Buffer.concat([hello, Buffer.from('request body')]));
    await sleep(50);
    const line = passthroughLines(mirror).find((l) => l.sni === 'half.raw.test');
    assert.equal(line?.close, 'done');
    assert.equal(line?.bytesIn, hello.length + 12);
    assert.equal(line?.bytesOut, Buffer.concat(answer).length);
  });

  test('a client that stops reading holds the backend\'s writes back, and then gets every byte in order', async (t) => {
    const s = netConnect({ host: '127.0.0.1', port: portOf(mirror) });
    s.write(await captureClientHello({ servername: 'flood.raw.test' }));
    s.pause();
    await sleep(1_300);
    assert.ok(flooded.flushedAtPause > 0, 'the backend never started');
    t.diagnostic(`backend flushed ${flooded.flushedAtPause} bytes while the client read nothing`);
    assert.ok(flooded.flushedAtPause < 32 * 1024 * 1024, `backend flushed ${flooded.flushedAtPause} bytes to a client that reads nothing`);
    let received = 0;
    const hash = createHash('sha256');
    s.on('data', (d: Buffer) => {
      received += d.length;
      hash.update(d);
      // A slow reader now and then, so that Pullgate's writes to it complete late and its buffers rotate.
      if (received % (8 * 1024 * 1024) < d.length) {
        s.pause();
        setTimeout(() => s.resume(), 20);
      }
    });
    s.resume();
    await once(s, 'end');
    assert.equal(received, floodBytes);
    assert.equal(hash.digest('hex'), flooded.sha256);
    s.destroy();
  });

  test('a backend that refuses the connection costs the client a TLS alert and is logged', async () => {
    const err = await handshakeError(portOf(mirror), 'down.secure.test', backendCa.caCertPem);
    assert.equal(err.code, 'ERR_SSL_TLSV1_ALERT_INTERNAL_ERROR');
    await sleep(50);
    const line = passthroughLines(mirror).find((l) => l.sni === 'down.secure.test');
    assert.equal(line?.close, 'connect-failed');
    assert.equal(line?.error, 'ECONNREFUSED');
  });

  test('the admit hook sees the client address and name, and a refusal is an access_denied alert', async () => {
    const before = echo.connections;
    denied.add('registry.secure.test');
    try {
      const err = await handshakeError(portOf(mirror), 'registry.secure.test', backendCa.caCertPem);
      assert.equal(err.code, 'ERR_SSL_TLSV1_ALERT_ACCESS_DENIED');
    } finally {
      denied.delete('registry.secure.test');
    }
    assert.equal(echo.connections, before);
    assert.deepEqual(admitCalls.at(-1), ['127.0.0.1', 'registry.secure.test']);
    assert.equal(mirror.app.sni!.stats().routes.find((r) => r.sni === 'registry.secure.test')?.denied, 1);
  });

  test('the access rules\' address lists apply to passthrough routes: a denied address gets access_denied', async () => {
    const guarded = await startMirror({
      listen: { https: '127.0.0.1:0' },
      tls: { certificates: mirrorCertificates, passthrough: [{ sni: 'registry.secure.test', to: echo.to }] },
      access: { deny: ['127.0.0.0/8'] },
      upstreams: [hub],
    });
    try {
      const before = echo.connections;
      const err = await handshakeError(portOf(guarded), 'registry.secure.test', backendCa.caCertPem);
      assert.equal(err.code, 'ERR_SSL_TLSV1_ALERT_ACCESS_DENIED');
      assert.equal(echo.connections, before, 'the backend is never dialled');
    } finally {
      await guarded.close();
    }
  });

  test('routes replaced at run time apply to the next connection', async () => {
    const routes = mirror.app.passthroughRoutes;
    const saved = routes.list();
    routes.replace([...saved, { sni: 'late.secure.test', to: wild.to }]);
    try {
      const c = await tlsTo(portOf(mirror), 'late.secure.test', backendCa.caCertPem).catch((e: Error) => e);
      // The backend's certificate does not name late.secure.test, so the client's check fails: its cert was seen.
      assert.ok(c instanceof Error && /late\.secure\.test/.test(c.message), String(c));
      assert.equal(mirror.app.sni!.stats().routes.find((r) => r.sni === 'late.secure.test')?.connections, 1);
    } finally {
      routes.replace(saved);
    }
  });
});
