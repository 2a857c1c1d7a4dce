// SIGHUP (docs/operating.md, "Signals") to the real process: the next TLS handshake presents the renewed certificate, a
// new upstream in the config file is routed to, a broken file is refused (the running config stays, the log says why),
// and a changed listen address is reported as needing a restart.
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { copyFile, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { connect as tlsConnect } from 'node:tls';
import { stringify } from 'yaml';
import { fullManifestAccept } from '../../src/registry/media-types.js';
import { FakeUpstream } from '../support/fake/fake-upstream.js';
import { get } from '../support/fake/mirror-over-fake.js';
import { spawnMirror, type MirrorProcess } from '../support/mirror-process.js';
import { createTestCa, type IssuedCert, type TestCa } from '../support/pki.js';

function presentedCertificate(url: string, ca: string): Promise<string> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = tlsConnect({ host: hostname, port: Number(port), servername: 'reload.mirror.test', ca }, () => {
      resolve((socket.getPeerX509Certificate() as X509Certificate).fingerprint256);
      socket.end();
    });
    socket.on('error', reject);
  });
}

const fingerprint = (cert: IssuedCert) => new X509Certificate(cert.certPem).fingerprint256;

describe('SIGHUP', () => {
  let dir: string;
  let ca: TestCa;
  let certA: IssuedCert;
  let certB: IssuedCert;
  let hub: FakeUpstream;
  let corp: FakeUpstream;
  let mirror: MirrorProcess;
  let httpsUrl: string;
  const live = { cert: '', key: '' };
  const file = () => join(dir, 'pullgate.yaml');
  const config = (extra: Record<string, unknown> = {}) => ({
    listen: { http: '127.0.0.1:0', https: '127.0.0.1:0' },
    dataDir: join(dir, 'data'),
    log: { level: 'debug' },
    tls: { certificates: [live] },
    upstreams: [{ name: 'hub', registry: 'docker.io', url: hub.url, default: true }],
    ...extra,
  });
  const corpUpstream = () => ({ name: 'corp', registry: 'registry.corp.test:5000', url: corp.url });
  /** Sends SIGHUP and waits for the log line that says how the reload went. */
  async function hangUp(): Promise<Record<string, unknown>> {
    const from = mirror.logs.length;
    mirror.child.kill('SIGHUP');
    for (let i = 0; i < 500; i++) {
      const line = mirror.logs.slice(from).map((l) => JSON.parse(l) as Record<string, unknown>).find((l) => /^configuration reload/.test(String(l.msg)));
      if (line) return line;
      await new Promise((r) => setTimeout(r, 10));
    }
    throw new Error('no reload log line after SIGHUP');
  }

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'pullgate-reload-'));
    ca = await createTestCa(join(dir, 'ca'));
    certA = await ca.issue('a', ['reload.mirror.test'], ['127.0.0.1']);
    certB = await ca.issue('b', ['reload.mirror.test'], ['127.0.0.1']);
    live.cert = join(dir, 'fullchain.pem');
    live.key = join(dir, 'privkey.pem');
    await copyFile(certA.certPath, live.cert);
    await copyFile(certA.keyPath, live.key);
    hub = await new FakeUpstream().start();
    corp = await new FakeUpstream().start();
    corp.addImage('team/tool', '1.0', [Buffer.from('corp layer')]);
    mirror = await spawnMirror(dir, config());
    const listening = mirror.logs.map((l) => JSON.parse(l) as { msg?: string; https?: string }).find((l) => l.msg === 'pullgate listening');
    httpsUrl = listening?.https ?? '';
  });
  after(async () => {
    await mirror?.stop('SIGKILL');
    await hub?.stop();
    await corp?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  test('reloads the certificate (the next handshake presents it) and the config file (a new upstream is routed to)', { timeout: 30_000 }, async () => {
    assert.equal(await presentedCertificate(httpsUrl, ca.caCertPem), fingerprint(certA));
    const before = await get(mirror.url, '/v2/team/tool/manifests/1.0?ns=registry.corp.test%3A5000', { headers: { accept: fullManifestAccept } });
    assert.equal(before.status, 404, 'no upstream for that registry yet');
    assert.equal(corp.count(), 0);

    await copyFile(certB.certPath, live.cert);
    await copyFile(certB.keyPath, live.key);
    await writeFile(file(), stringify(config({ upstreams: [...config().upstreams, corpUpstream()] })));
    const line = await hangUp();
    assert.equal(line.msg, 'configuration reloaded');
    assert.deepEqual(line.applied, ['upstreams']);

    assert.equal(await presentedCertificate(httpsUrl, ca.caCertPem), fingerprint(certB));
    const after = await get(mirror.url, '/v2/team/tool/manifests/1.0?ns=registry.corp.test%3A5000', { headers: { accept: fullManifestAccept } });
    assert.equal(after.status, 200);
    assert.equal(after.body.toString(), corp.manifests.get('team/tool')?.get('1.0')?.bytes.toString());
    assert.equal(corp.count((r) => r.path === '/v2/team/tool/manifests/1.0'), 1);
  });

  test('a broken config file is refused with its problems logged, the running config keeps serving, certificates still reload', { timeout: 30_000 }, async () => {
    await writeFile(file(), stringify({ ...config({ upstreams: [...config().upstreams, corpUpstream()] }), colour: 'blue' }));
    await copyFile(certA.certPath, live.cert);
    await copyFile(certA.keyPath, live.key);
    const line = await hangUp();
    assert.equal(await presentedCertificate(httpsUrl, ca.caCertPem), fingerprint(certA));
    assert.equal(line.msg, 'configuration reload refused; keeping the running configuration');
    assert.match(String(line.error), /Unrecognized key: "colour"/);
    const still = await get(mirror.url, `/v2/team/tool/manifests/${corp.manifests.get('team/tool')?.get('1.0')?.digest}?ns=registry.corp.test%3A5000`, {
      headers: { accept: fullManifestAccept },
    });
    assert.equal(still.status, 200, 'the corp upstream from the last good config still routes');
    assert.equal(mirror.child.exitCode, null, 'the process is still running');
  });

  test('a changed listen address is not applied: the log says a restart is needed, the rest (upstreams, log level) applies', { timeout: 30_000 }, async () => {
    await writeFile(file(), stringify(config({ listen: { http: '127.0.0.1:0', https: '127.0.0.1:1' }, log: { level: 'warn' } })));
    const from = mirror.logs.length;
    const line = await hangUp();
    assert.equal(line.msg, 'configuration reloaded');
    assert.deepEqual(line.applied, ['upstreams', 'log.level']);
    const warning = mirror.logs.slice(from).map((l) => JSON.parse(l) as { msg?: string; keys?: string[] }).find((l) => l.msg?.includes('need a restart'));
    assert.deepEqual(warning?.keys, ['listen']);
    assert.equal(await presentedCertificate(httpsUrl, ca.caCertPem), fingerprint(certA), 'still listening where it was');
    const gone = await get(mirror.url, '/v2/team/tool/manifests/1.0?ns=registry.corp.test%3A5000', { headers: { accept: fullManifestAccept } });
    assert.equal(gone.status, 404, 'the corp upstream was removed');
    // At warn, the access lines (info) are no longer written.
    const requestLines = () => mirror.logs.filter((l) => (JSON.parse(l) as { msg?: string }).msg === 'request').length;
    const before = requestLines();
    assert.ok(before > 0, 'access lines were written at debug');
    await get(mirror.url, '/v2/');
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(requestLines(), before);
  });
});
