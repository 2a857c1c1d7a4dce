// Issue 7 end to end: a real docker-registry that terminates its own TLS sits behind a passthrough route on
// Pullgate's HTTPS port, and real skopeo pulls through that port trusting only the registry's CA; a mirror hostname
// on the same port is still terminated by Pullgate with its own certificate from another CA.
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { connect as tlsConnect } from 'node:tls';
import { addHostsBlock, type HostsBlock } from '../support/etc-hosts.js';
import { pushFixtures, type Fixtures } from '../support/fixture-images.js';
import { assertInstalled, ToolError } from '../support/installed-tools.js';
import { startMirror, type TestMirror } from '../support/mirror-app.js';
import { assertLayerFiles, registryRequests } from '../support/pull-assertions.js';
import { parseAccessLines, sha256 } from '../support/pull-through-setup.js';
import { createTestCa, type TestCa } from '../support/pki.js';
import { startRealRegistry, type RealRegistry } from '../support/real-registry.js';
import { skopeo } from '../support/skopeo.js';

const requiredPrograms = ['docker-registry', 'skopeo', 'openssl'];
const slow = { timeout: 120_000 };
const mirrorName = 'mirror.sni-e2e.test';
const unknownName = 'unknown.sni-e2e.test';

test('docker-registry, skopeo and openssl are installed for the SNI passthrough e2e tests', () => assertInstalled(...requiredPrograms));

describe('skopeo through a TLS passthrough route to a registry that keeps its own TLS', () => {
  let work: string;
  let reg: RealRegistry;
  let fixtures: Fixtures;
  let pullgateCa: TestCa;
  let hosts: HostsBlock;
  let mirror: TestMirror;
  let port: number;
  let creds: string[];

  before(async () => {
    await assertInstalled(...requiredPrograms);
    work = await mkdtemp(join(tmpdir(), 'pullgate-sni-e2e-'));
    // Blobs come from the registry itself: every byte of the pull crosses the passthrough pipe.
    reg = await startRealRegistry({ redirectBlobs: false });
    fixtures = await pushFixtures(reg);
    pullgateCa = await createTestCa(join(work, 'pullgate-ca'));
    const cert = await pullgateCa.issue('pullgate', [mirrorName], ['127.0.0.1']);
    hosts = await addHostsBlock([reg.hostname, mirrorName, unknownName]);
    const reader = { user: 'reader', password: reg.users['reader'] ?? '' };
    creds = ['--creds', `${reader.user}:${reader.password}`];
    mirror = await startMirror({
      listen: { https: '127.0.0.1:0' },
      tls: { certificates: [{ cert: cert.certPath, key: cert.keyPath }], passthrough: [{ sni: reg.hostname, to: reg.host }] },
      upstreams: [
        { name: 'corp', registry: 'corp.sni-e2e.test', url: reg.url, ca: reg.caFile, hosts: [mirrorName], auth: { username: reader.user, password: reader.password } },
      ],
    });
    port = Number(new URL(mirror.httpsUrl!).port);
  }, { timeout: 180_000 });

  after(async () => {
    await mirror?.close();
    await hosts?.remove();
    await reg?.stop();
    if (work) await rm(work, { recursive: true, force: true });
  });

  test('the client sees the registry\'s own certificate on Pullgate\'s port, not Pullgate\'s', async () => {
    const registryCert = new X509Certificate(await readFile(join(reg.dir, 'pki', 'registry.pem')));
    const seen = await new Promise<X509Certificate>((resolve, reject) => {
      const s = tlsConnect({ host: '127.0.0.1', port, servername: reg.hostname, ca: reg.ca.caCertPem }, () => {
        resolve(s.getPeerX509Certificate() as X509Certificate);
        s.end();
      });
      s.once('error', reject);
    });
    assert.equal(seen.fingerprint256, registryCert.fingerprint256);
  });

  test('skopeo copies team/app:1.0 through the pipe trusting only the registry\'s CA, layers verified', slow, async () => {
    const { app } = fixtures;
    const from = reg.logs().length;
    const ref = `docker://${reg.hostname}:${port}/${app.repository}:${app.tag}`;
    const dest = join(work, 'through-pipe');
    await skopeo(['copy', '--quiet', '--src-cert-dir', reg.ca.certDir, ...creds.map((c) => c.replace('--creds', '--src-creds')), ref, `oci:${dest}:${app.tag}`]);
    const index = JSON.parse(await readFile(join(dest, 'index.json'), 'utf8')) as { manifests: { digest: string }[] };
    assert.equal(index.manifests[0]?.digest, app.digest);
    await assertLayerFiles(join(dest, 'blobs', 'sha256'), app.layers);

    // The registry answered skopeo itself: its user agent, not Pullgate's, and Pullgate logged no registry request.
    const seen = registryRequests(reg, from);
    assert.ok(seen.some((r) => r.path === `/v2/${app.repository}/manifests/${app.tag}` && r.status === 200 && !r.userAgent.startsWith('pullgate')), JSON.stringify(seen));
    for (const layer of app.layers) assert.ok(seen.some((r) => r.path.endsWith(`/blobs/${layer.digest}`) && r.status === 200), layer.digest);
    assert.equal(parseAccessLines(mirror.logs).filter((l) => String(l.url).includes(app.repository)).length, 0);

    const route = mirror.app.sni!.stats().routes.find((r) => r.sni === reg.hostname);
    const layerBytes = app.layers.reduce((n, l) => n + l.size, 0);
    assert.ok(route && route.bytesOut > layerBytes, JSON.stringify(route));
    assert.ok(route.connections >= 1 && route.active === 0, JSON.stringify(route));
  });

  test('trusting only Pullgate\'s CA, skopeo refuses the passthrough name: Pullgate never terminated it', slow, async () => {
    const err = await skopeo(['inspect', '--raw', '--cert-dir', pullgateCa.certDir, ...creds, `docker://${reg.hostname}:${port}/${fixtures.app.repository}:${fixtures.app.tag}`]).catch((e: unknown) => e);
    assert.ok(err instanceof ToolError, String(err));
    assert.match(err.stderr, /x509: certificate signed by unknown authority/);
  });

  test('a mirror hostname on the same port is terminated by Pullgate and served from the upstream', slow, async () => {
    const { app } = fixtures;
    const { stdout } = await skopeo(['inspect', '--raw', '--no-creds', '--cert-dir', pullgateCa.certDir, `docker://${mirrorName}:${port}/${app.repository}:${app.tag}`]);
    assert.equal(sha256(stdout), app.digest);
    const lines = parseAccessLines(mirror.logs).filter((l) => l.url === `/v2/${app.repository}/manifests/${app.tag}` && l.upstream === 'corp');
    assert.ok(lines.some((l) => l.status === 200), JSON.stringify(lines));
  });

  test('an unknown name on the same port gets Pullgate\'s default certificate', slow, async () => {
    const err = await skopeo(['inspect', '--raw', '--no-creds', '--cert-dir', pullgateCa.certDir, `docker://${unknownName}:${port}/${fixtures.app.repository}:${fixtures.app.tag}`]).catch((e: unknown) => e);
    assert.ok(err instanceof ToolError, String(err));
    assert.match(err.stderr, new RegExp(`certificate is valid for ${mirrorName.replace(/\./g, '\\.')}.*not ${unknownName.replace(/\./g, '\\.')}`));
  });
});
