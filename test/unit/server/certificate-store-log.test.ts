import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { test } from 'node:test';
import pino from 'pino';
import { CertificateStore } from '../../../src/server/certificates.js';
import { createTestCa } from '../../support/pki.js';

test('the certificates are logged as loaded once per change, not once per source that publishes them', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'pullgate-certlog-'));
  try {
    const ca = await createTestCa(dir);
    const cert = await ca.issue('mirror', ['mirror.test'], []);
    const lines: string[] = [];
    const log = pino({ level: 'info' }, new Writable({ write: (chunk, _e, done) => (lines.push(String(chunk)), done()) }));
    const store = new CertificateStore([{ cert: cert.certPath, key: cert.keyPath }], log);
    await store.load();
    // At start the stored managed certificates publish too, here none.
    store.setManaged([]);
    await store.reload();
    const loaded = () => lines.filter((l) => l.includes('TLS certificates loaded')).length;
    assert.equal(loaded(), 1);
    const other = await ca.issue('other', ['other.test'], []);
    store.setManaged([{ cert: other.certPem, key: other.keyPem }]);
    assert.equal(loaded(), 2, 'a new certificate is logged');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
