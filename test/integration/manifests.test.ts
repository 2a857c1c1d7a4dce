import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { after, before, beforeEach, describe, test } from 'node:test';
import { fullManifestAccept } from '../../src/registry/media-types.js';
import type { FakeManifest } from '../support/fake/fake-upstream.js';
import { errorCode, get, mirrorOverFake, type Setup } from '../support/fake/mirror-over-fake.js';
import { protocols, type RegistryClient } from '../support/registry-client.js';

const sha = (b: Buffer) => `sha256:${createHash('sha256').update(b).digest('hex')}`;

for (const protocol of protocols) describe(`manifests through the mirror (${protocol})`, () => {
  let s: Setup;
  let c: RegistryClient;
  let image: FakeManifest;
  let index: FakeManifest;
  let arm: FakeManifest;

  before(async () => {
    // tagTtl 0: every tag request revalidates upstream, so each test sees its own upstream traffic.
    s = await mirrorOverFake({ auth: true }, { tagTtl: 0 });
    c = await s.client(protocol);
    image = s.up.addImage('library/alpine', '3.20', [Buffer.alloc(1000, 1)]);
    arm = s.up.addImage('library/multi', 'arm', [Buffer.alloc(500, 2)]);
    index = s.up.addIndex('library/multi', 'latest', [image, arm]);
    s.up.addImage('distroless/base', 'latest', [Buffer.alloc(10, 3)], 'application/vnd.docker.distribution.manifest.v2+json');
  });
  after(() => s.close());
  beforeEach(() => s.up.reset());

  test('a GET returns the upstream bytes exactly, with their media type and digest', async () => {
    const r = await get(c, '/v2/library/alpine/manifests/3.20');
    assert.equal(r.status, 200);
    assert.deepEqual(r.body, image.bytes);
    assert.equal(r.headers['content-type'], image.mediaType);
    assert.equal(r.headers['docker-content-digest'], image.digest);
    assert.equal(sha(r.body), image.digest);
    assert.equal(r.headers.etag, `"${image.digest}"`);
    assert.equal(r.headers['docker-distribution-api-version'], 'registry/2.0');
  });

  test('a HEAD announces the length and digest of the GET body and sends no body', async () => {
    const head = await get(c, '/v2/library/alpine/manifests/3.20', { method: 'HEAD' });
    assert.equal(head.status, 200);
    assert.equal(head.body.length, 0);
    assert.equal(head.headers['content-length'], String(image.bytes.length));
    assert.equal(head.headers['docker-content-digest'], image.digest);
    assert.equal(s.up.count((r) => r.path.endsWith('/manifests/3.20') && r.method === 'GET'), 0, 'HEAD stays HEAD upstream');
  });

  test('a HEAD falls back to GET when the upstream does not announce a digest', async () => {
    s.up.faults.noHeadDigest = true;
    const head = await get(c, '/v2/library/alpine/manifests/3.20', { method: 'HEAD' });
    assert.equal(head.headers['docker-content-digest'], image.digest);
    assert.equal(head.headers['content-length'], String(image.bytes.length));
  });

  test('a single-segment name on the Docker Hub root gets library/', async () => {
    const r = await get(c, '/v2/alpine/manifests/3.20');
    assert.equal(r.status, 200);
    assert.ok(s.up.requests.some((q) => q.path === '/v2/library/alpine/manifests/3.20'));
  });

  test('tags are resolved upstream with all four manifest types in Accept', async () => {
    await get(c, '/v2/library/alpine/manifests/3.20', { headers: { accept: 'application/vnd.oci.image.manifest.v1+json, */*' } });
    const sent = s.up.requests.filter((q) => q.path.endsWith('/manifests/3.20')).map((q) => q.headers.accept);
    assert.ok(sent.length > 0);
    for (const accept of sent) assert.equal(accept, fullManifestAccept);
  });

  test('Docker\'s repeated Accept lines count as one list', async () => {
    const r = await get(c, '/v2/library/multi/manifests/latest', {
      headers: { accept: 'application/vnd.docker.distribution.manifest.v2+json, application/vnd.docker.distribution.manifest.list.v2+json, application/vnd.oci.image.manifest.v1+json, application/vnd.oci.image.index.v1+json' },
    });
    assert.equal(r.status, 200);
    assert.equal(r.headers['docker-content-digest'], index.digest);
  });

  test('a client that does not accept indexes gets the upstream\'s narrowed answer, never a cached full one', async () => {
    const narrow = await get(c, '/v2/library/multi/manifests/latest', { headers: { accept: 'application/vnd.oci.image.manifest.v1+json' } });
    assert.equal(narrow.status, 404);
    assert.equal(errorCode(narrow), 'MANIFEST_UNKNOWN');
    assert.equal(s.up.requests.find((q) => q.path.endsWith('/manifests/latest') && q.headers.authorization)?.headers.accept, 'application/vnd.oci.image.manifest.v1+json');
    const full = await get(c, '/v2/library/multi/manifests/latest');
    assert.equal(full.headers['docker-content-digest'], index.digest);
    assert.equal(full.headers['content-type'], index.mediaType);
  });

  test('a manifest by digest is verified against that digest', async () => {
    const r = await get(c, `/v2/library/multi/manifests/${arm.digest}`);
    assert.equal(r.status, 200);
    assert.equal(sha(r.body), arm.digest);
  });

  test('an upstream manifest that does not match the requested digest is refused', async () => {
    const wrong = `sha256:${'ab'.repeat(32)}`;
    s.up.manifests.get('library/alpine')!.set(wrong, image);
    const r = await get(c, `/v2/library/alpine/manifests/${wrong}`);
    assert.equal(r.status, 502);
    assert.equal(errorCode(r), 'UPSTREAM_INVALID');
  });

  test('If-None-Match with the digest answers 304', async () => {
    const r = await get(c, '/v2/library/alpine/manifests/3.20', { headers: { 'if-none-match': `"${image.digest}"` } });
    assert.equal(r.status, 304);
    assert.equal(r.body.length, 0);
  });

  test('an unknown tag is MANIFEST_UNKNOWN and an unknown repository NAME_UNKNOWN, as JSON', async () => {
    const tag = await get(c, '/v2/library/alpine/manifests/nope');
    assert.equal(tag.status, 404);
    assert.match(String(tag.headers['content-type']), /^application\/json/);
    assert.equal(errorCode(tag), 'MANIFEST_UNKNOWN');
    const repo = await get(c, '/v2/nobody/here/manifests/latest');
    assert.equal(errorCode(repo), 'NAME_UNKNOWN');
  });

  test('ns picks the upstream, is echoed in OCI-Namespace, and wins over a mapped Host', async () => {
    const r = await get(c, '/v2/library/alpine/manifests/3.20?ns=docker.io', { headers: { host: 'gcr.mirror.test' } });
    assert.equal(r.status, 200);
    assert.equal(r.headers['oci-namespace'], 'docker.io');
    assert.match(s.mirror.logs.filter((l) => l.includes('"reference":"3.20"')).at(-1) ?? '', /"upstream":"hub"/);
  });

  test('an ns naming an unconfigured registry or an IP address is refused without dialling anything', async () => {
    for (const ns of ['evil.example.com', '10.0.0.1%3A5000', '169.254.169.254']) {
      const before = s.up.requests.length;
      const r = await get(c, `/v2/library/alpine/manifests/3.20?ns=${ns}`);
      assert.equal(r.status, 404, ns);
      assert.equal(errorCode(r), 'NAME_UNKNOWN');
      assert.equal(s.up.requests.length, before);
    }
  });

  test('a mapped Host routes to its upstream and never reads a path prefix', async () => {
    const r = await get(c, '/v2/distroless/base/manifests/latest', { headers: { host: 'gcr.mirror.test:5443' } });
    assert.equal(r.status, 200);
    const prefixed = await get(c, '/v2/gcr.io/distroless/base/manifests/latest', { headers: { host: 'gcr.mirror.test' } });
    assert.equal(prefixed.status, 404, 'gcr.io/distroless/base is a repository name on a mapped host');
    assert.ok(s.up.requests.some((q) => q.path === '/v2/gcr.io/distroless/base/manifests/latest'));
  });

  test('on the mirror root a registry path prefix routes to that upstream', async () => {
    const r = await get(c, '/v2/gcr.io/distroless/base/manifests/latest');
    assert.equal(r.status, 200);
    assert.ok(s.up.requests.some((q) => q.path === '/v2/distroless/base/manifests/latest'));
    const hub = await get(c, '/v2/docker.io/library/alpine/manifests/3.20');
    assert.equal(hub.headers['docker-content-digest'], image.digest);
  });

  test('a path prefix naming an unconfigured registry is refused without dialling', async () => {
    const r = await get(c, '/v2/evil.example.com/x/manifests/latest');
    assert.equal(errorCode(r), 'NAME_UNKNOWN');
    assert.equal(s.up.requests.length, 0);
  });
});
