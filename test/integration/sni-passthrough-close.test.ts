import assert from 'node:assert/strict';
import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { startMirror } from '../support/mirror-app.js';
import { startTlsEcho } from '../support/passthrough-backends.js';
import { createTestCa } from '../support/pki.js';
import { ask, closedWithin, passthroughLines, portOf, tlsTo } from '../support/sni-clients.js';

const hub = { name: 'hub', registry: 'docker.io', url: 'http://127.0.0.1:9', default: true };

describe('closing the mirror', () => {
  test('ends open passthrough pipes and keep-alive HTTPS connections promptly', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'pullgate-sni-close-'));
    const ca = await createTestCa(join(dir, 'ca'));
    const cert = await ca.issue('m', ['mirror.sni.test', 'registry.secure.test']);
    const echo = await startTlsEcho('echo', cert);
    const mirror = await startMirror({
      listen: { https: '127.0.0.1:0' },
      tls: { certificates: [{ cert: cert.certPath, key: cert.keyPath }], passthrough: [{ sni: 'registry.secure.test', to: echo.to }] },
      upstreams: [hub],
    });
    try {
      const piped = await tlsTo(portOf(mirror), 'registry.secure.test', ca.caCertPem);
      assert.equal(await ask(piped.socket, 'x'), 'echo registry.secure.test x');
      const h1 = await tlsTo(portOf(mirror), 'mirror.sni.test', ca.caCertPem, { alpn: ['http/1.1'] });
      h1.socket.write('GET /v2/ HTTP/1.1\r\nHost: mirror.sni.test\r\n\r\n');
      await once(h1.socket, 'data');
      const started = Date.now();
      await mirror.close();
      assert.ok(Date.now() - started < 3_000, `close took ${Date.now() - started} ms`);
      await closedWithin(piped.socket, 2_000);
      await closedWithin(h1.socket, 2_000);
      assert.equal(passthroughLines(mirror).at(-1)?.close, 'shutdown');
    } finally {
      await mirror.close();
      await echo.close();
      await rm(dir, { recursive: true, force: true });
    }
  });
});
