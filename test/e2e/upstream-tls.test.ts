import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { assertInstalled } from '../support/installed-tools.js';
import { startConnectProxy, type ConnectProxy } from '../support/connect-proxy.js';
import { pushFixtures, type FixtureImage, type Fixtures } from '../support/fixture-images.js';
import { startRealRegistry, type RealRegistry } from '../support/real-registry.js';
import { errorCode, get } from '../support/fake/mirror-over-fake.js';
import { startMirror, type TestMirror } from '../support/mirror-app.js';

test('docker-registry, skopeo and openssl are installed for the upstream TLS tests', () => assertInstalled('docker-registry', 'skopeo', 'openssl'));

describe('upstream TLS origination against a real registry', () => {
  let reg: RealRegistry;
  let fixtures: Fixtures;
  let proxy: ConnectProxy;
  let mirror: TestMirror;

  before(async () => {
    await assertInstalled('docker-registry', 'skopeo', 'openssl');
    reg = await startRealRegistry();
    fixtures = await pushFixtures(reg);
    proxy = await startConnectProxy();
    mirror = await startMirror({
      upstreams: [
        { name: 'untrusted', registry: 'untrusted.test', url: reg.url, hosts: ['untrusted.test'] },
        { name: 'skipverify', registry: 'skip.test', url: reg.url, hosts: ['skip.test'], insecureSkipVerify: true },
        { name: 'trusted', registry: 'trusted.test', url: reg.url, hosts: ['trusted.test'], ca: reg.caFile },
        { name: 'proxied', registry: 'proxied.test', url: reg.url, hosts: ['proxied.test'], ca: reg.caFile, proxy: proxy.url },
      ],
    });
  }, { timeout: 120_000 });
  after(async () => {
    await mirror?.close();
    await proxy?.close();
    await reg?.stop();
  });

  const path = () => `/v2/${fixtures.app.repository}/manifests/${fixtures.app.tag}`;

  test('an upstream whose certificate does not chain to a trusted CA is refused as UNAVAILABLE', async () => {
    const r = await get(mirror.url, path(), { headers: { host: 'untrusted.test' } });
    assert.equal(r.status, 503);
    assert.equal(errorCode(r), 'UNAVAILABLE');
    assert.match(r.body.toString(), /certificate|CERT|SELF_SIGNED|UNABLE_TO/i);
  });

  /** A cold blob through `host`: its bytes, and whether the CDN's answer was read straight from the socket. */
  async function coldBlob(host: string, image: FixtureImage, index: number): Promise<void> {
    const layer = image.layers[index]!;
    const seen = reg.cdn.requests.length;
    const b = await get(mirror.url, `/v2/${image.repository}/blobs/${layer.digest}`, { headers: { host } });
    assert.equal(b.status, 200);
    assert.equal(`sha256:${createHash('sha256').update(b.body).digest('hex')}`, layer.digest);
    const cdn = reg.cdn.requests.slice(seen).filter((q) => q.method === 'GET');
    assert.deepEqual(cdn.map((q) => q.headers.connection), [undefined], 'one direct read of the CDN (undici sends connection: keep-alive)');
  }

  test('the upstream\'s own CA bundle is trusted on top of the system CAs', async () => {
    const r = await get(mirror.url, path(), { headers: { host: 'trusted.test' } });
    assert.equal(r.status, 200);
    assert.equal(r.headers['docker-content-digest'], fixtures.app.digest);
    await coldBlob('trusted.test', fixtures.alpine, 0);
  });

  test('insecureSkipVerify, set explicitly, turns verification off for that upstream only', async () => {
    const r = await get(mirror.url, path(), { headers: { host: 'skip.test' } });
    assert.equal(r.status, 200);
    // Not the proxied test's layer: that one must still be cold there.
    await coldBlob('skip.test', fixtures.app, 1);
  });

  test('an upstream with a proxy is reached through a CONNECT tunnel, redirect host included', async () => {
    const layer = fixtures.app.layers[0]!;
    const m = await get(mirror.url, path(), { headers: { host: 'proxied.test' } });
    assert.equal(m.status, 200);
    const b = await get(mirror.url, `/v2/${fixtures.app.repository}/blobs/${layer.digest}`, { headers: { host: 'proxied.test' } });
    assert.equal(b.status, 200);
    assert.equal(b.body.length, layer.size);
    assert.ok(proxy.seen.includes(`CONNECT ${reg.host}`), proxy.seen.join(', '));
    const cdnHost = new URL(reg.cdn.url).host;
    assert.ok(proxy.seen.includes(`CONNECT ${cdnHost}`), proxy.seen.join(', '));
  });
});
