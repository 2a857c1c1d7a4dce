// Upstream resilience against real software (docs/configuration.md, "Upstream resilience"): an upstream whose regional
// mirror is stopped or lacks the image still serves skopeo from the origin, a real docker-registry; and an origin whose
// TLS certificate has expired or names another host is refused with a reason, while what is cached keeps being served.
import assert from 'node:assert/strict';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { connect as tlsConnect, createServer as createTlsServer, type Server as TlsServer } from 'node:tls';
import { startConnectProxy, type ConnectProxy } from '../support/connect-proxy.js';
import { errorCode, get } from '../support/fake/mirror-over-fake.js';
import { pushFixtures, type Fixtures } from '../support/fixture-images.js';
import { assertInstalled } from '../support/installed-tools.js';
import { startMirror, type TestMirror } from '../support/mirror-app.js';
import { startRealRegistry, type RealRegistry } from '../support/real-registry.js';
import { skopeo } from '../support/skopeo.js';

const requiredPrograms = ['docker-registry', 'skopeo', 'openssl'];
const slow = { timeout: 180_000 };

test('docker-registry, skopeo and openssl are installed for the upstream failover e2e tests', () => assertInstalled(...requiredPrograms));

/** A loopback port with nothing listening: a regional mirror that is down. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  await new Promise((r) => server.close(r));
  return port;
}

/** skopeo copies through the mirror's plain-HTTP root (the default upstream) into a dir:, layers verified by skopeo. */
async function skopeoCopy(mirror: TestMirror, repository: string, tag: string): Promise<string[]> {
  const dest = await mkdtemp(join(tmpdir(), 'pullgate-failover-'));
  try {
    const host = new URL(mirror.url).host;
    await skopeo(['copy', '--quiet', '--src-no-creds', '--src-tls-verify=false', `docker://${host}/${repository}:${tag}`, `dir:${dest}`]);
    return (await readdir(dest)).sort();
  } finally {
    await rm(dest, { recursive: true, force: true });
  }
}

describe('failover from a regional mirror to the origin, with skopeo and docker-registry', () => {
  let origin: RealRegistry;
  let regional: RealRegistry;
  let fixtures: Fixtures;
  let caBundle: string;
  let mirrors: TestMirror[] = [];

  before(async () => {
    await assertInstalled(...requiredPrograms);
    // The regional mirror is a second real registry without the fixtures: it answers, and lacks the images.
    [origin, regional] = await Promise.all([startRealRegistry({ auth: false }), startRealRegistry({ auth: false })]);
    fixtures = await pushFixtures(origin);
    caBundle = join(origin.dir, 'both-cas.pem');
    await writeFile(caBundle, (await readFile(origin.caFile, 'utf8')) + (await readFile(regional.caFile, 'utf8')));
  }, { timeout: 180_000 });
  after(async () => {
    for (const m of mirrors) await m.close();
    await origin?.stop();
    await regional?.stop();
  });

  const mirrorWith = async (regionalUrl: string): Promise<TestMirror> => {
    const m = await startMirror({
      upstreams: [{ name: 'hub', registry: 'docker.io', default: true, url: origin.url, mirrors: [regionalUrl], ca: caBundle, retries: { attempts: 2, minDelay: '50ms' }, circuit: { failures: 3 } }],
    });
    mirrors.push(m);
    return m;
  };

  const manifestLinesTo = (m: TestMirror) =>
    m.logs.filter((l) => l.includes('"upstreamStatus"') && l.includes('/manifests/')).map((l) => JSON.parse(l) as { upstreamStatus?: number });

  test('a stopped regional mirror: skopeo copies the image from the origin, and the mirror URL\'s circuit opens', slow, async () => {
    const m = await mirrorWith(`https://127.0.0.1:${await closedPort()}`);
    const { alpine } = fixtures;
    const files = await skopeoCopy(m, alpine.repository, alpine.tag);
    assert.ok(files.includes('manifest.json'), files.join(', '));
    for (const layer of alpine.layers) assert.ok(files.includes(layer.digest.replace('sha256:', '')), `layer ${layer.digest} copied`);
    const views = m.app.upstreams.router().named('hub')?.endpointViews() ?? [];
    assert.equal(views[0]?.role, 'mirror');
    assert.equal(views[0]?.circuit, 'open', JSON.stringify(views));
    assert.match(views[0]?.lastFailure ?? '', /unreachable \(ECONNREFUSED\)/);
    assert.equal(views[1]?.circuit, 'closed');
    assert.ok(manifestLinesTo(m).length > 0);
  });

  test('a regional mirror that lacks the image: skopeo gets it from the origin, and the mirror\'s 404 is not a failure', slow, async () => {
    const m = await mirrorWith(regional.url);
    const { alpine } = fixtures;
    const files = await skopeoCopy(m, alpine.repository, alpine.tag);
    assert.ok(files.includes('manifest.json'), files.join(', '));
    const views = m.app.upstreams.router().named('hub')?.endpointViews() ?? [];
    assert.deepEqual(views.map((v) => [v.role, v.circuit, v.failures]), [
      ['mirror', 'closed', 0],
      ['origin', 'closed', 0],
    ]);
  });
});

/** A TLS front for the real registry with a certificate of our choosing (expired): TLS in, TLS on to the registry. */
async function tlsFront(reg: RealRegistry, cert: { certPem: string; keyPem: string }): Promise<{ port: number; server: TlsServer }> {
  const target = new URL(reg.url);
  const ca = await readFile(reg.caFile, 'utf8');
  const server = createTlsServer({ cert: cert.certPem, key: cert.keyPem }, (client) => {
    const upstream = tlsConnect({ host: target.hostname, port: Number(target.port), ca, servername: 'localhost' }, () => {
      client.pipe(upstream);
      upstream.pipe(client);
    });
    upstream.on('error', () => client.destroy());
    client.on('error', () => upstream.destroy());
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { port: (server.address() as AddressInfo).port, server };
}

describe('an origin whose TLS certificate is wrong: refused with the reason, cache served', () => {
  let reg: RealRegistry;
  let fixtures: Fixtures;
  let proxy: ConnectProxy;
  let front: { port: number; server: TlsServer };
  let mirror: TestMirror;
  let now = Date.now();

  before(async () => {
    await assertInstalled(...requiredPrograms);
    reg = await startRealRegistry({ auth: false });
    fixtures = await pushFixtures(reg);
    const expired = await reg.ca.issue('expired-front', ['localhost'], ['127.0.0.1'], { days: -1 });
    front = await tlsFront(reg, expired);
    // wrong-name.test reaches the registry through the proxy, but the registry's certificate does not name it.
    proxy = await startConnectProxy({ hosts: { 'wrong-name.test': '127.0.0.1' } });
    mirror = await startMirror(
      {
        upstreams: [
          { name: 'good', registry: 'good.test', hosts: ['good.test'], url: reg.url, ca: reg.caFile, tagTtl: '1m' },
          { name: 'expired', registry: 'expired.test', hosts: ['expired.test'], url: `https://127.0.0.1:${front.port}`, ca: reg.caFile, retries: { attempts: 1 } },
          { name: 'mismatch', registry: 'mismatch.test', hosts: ['mismatch.test'], url: `https://wrong-name.test:${new URL(reg.url).port}`, ca: reg.caFile, proxy: proxy.url, retries: { attempts: 1 } },
        ],
      },
      { clock: () => now },
    );
  }, { timeout: 180_000 });
  after(async () => {
    await mirror?.close();
    front?.server.close();
    await proxy?.close();
    await reg?.stop();
  });

  const path = () => `/v2/${fixtures.alpine.repository}/manifests/${fixtures.alpine.tag}`;

  test('an expired certificate is refused, and the error says it has expired', slow, async () => {
    const r = await get(mirror.url, path(), { headers: { host: 'expired.test' } });
    assert.equal(r.status, 503);
    assert.equal(errorCode(r), 'UNAVAILABLE');
    assert.match(r.body.toString(), /certificate has expired \(CERT_HAS_EXPIRED\)/);
  });

  test('a certificate for another host name is refused, and the error says it does not match', slow, async () => {
    const r = await get(mirror.url, path(), { headers: { host: 'mismatch.test' } });
    assert.equal(r.status, 503);
    assert.equal(errorCode(r), 'UNAVAILABLE');
    assert.match(r.body.toString(), /does not match the host name \(ERR_TLS_CERT_ALTNAME_INVALID\)/);
    assert.ok(proxy.seen.some((s) => s.startsWith('CONNECT wrong-name.test')), 'the upstream was dialled, then refused');
  });

  test('a cached tag is served STALE once the origin\'s certificate has expired', slow, async () => {
    const first = await get(mirror.url, path(), { headers: { host: 'good.test' } });
    assert.equal(first.status, 200);
    // The same upstream now presents an expired certificate (its front was swapped): the cache covers it.
    const settings = mirror.app.upstreams.router().named('good')?.config;
    assert.ok(settings);
    mirror.app.upstreams.apply(
      mirror.app.upstreams.all().map((u) => (u.name === 'good' ? { ...settings, url: new URL(`https://127.0.0.1:${front.port}`), retries: { ...settings.retries, attempts: 1 } } : u.config)),
    );
    now += 2 * 60_000;
    const stale = await get(mirror.url, path(), { headers: { host: 'good.test' } });
    assert.equal(stale.status, 200);
    assert.equal(stale.headers['docker-content-digest'], fixtures.alpine.digest);
    const line = mirror.logs.filter((l) => l.includes('"cache":"STALE"'));
    assert.ok(line.length > 0, 'served STALE');
    assert.ok(mirror.logs.some((l) => l.includes('CERT_HAS_EXPIRED')), 'the refusal is logged with its reason');
  });
});
