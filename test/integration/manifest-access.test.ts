// Content first cached from one upstream (or repository) is served under another only after that upstream serves or
// confirms the same digest for that repository (docs/security.md, "Cache access across repositories, upstreams and
// replicas"). A tag revalidation HEAD only names a digest: an upstream that names the digest of a manifest cached
// elsewhere, and never served it, does not get that manifest served for its tag.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, beforeEach, describe, test } from 'node:test';
import { FakeUpstream, sha256, type FakeManifest } from '../support/fake/fake-upstream.js';
import { errorCode, get } from '../support/fake/mirror-over-fake.js';
import { startMirror, type TestMirror } from '../support/mirror-app.js';

const mediaType = 'application/vnd.oci.image.manifest.v1+json';
const otherHost = 'other.mirror.test';

describe('a tag revalidation naming a digest cached under another upstream or repository', () => {
  let hub: FakeUpstream;
  let other: FakeUpstream;
  let mirror: TestMirror;
  let now = Date.parse('2025-01-01T00:00:00Z');
  let secret: FakeManifest;

  before(async () => {
    hub = await new FakeUpstream().start();
    other = await new FakeUpstream().start();
    mirror = await startMirror(
      {
        upstreams: [
          { name: 'hub', registry: 'docker.io', url: hub.url, default: true, tagTtl: '5m' },
          { name: 'other', registry: 'other.example.test', url: other.url, hosts: [otherHost], tagTtl: '5m' },
        ],
      },
      { clock: () => now },
    );
    // A private image cached from hub.
    secret = hub.addImage('private/app', '1', [randomBytes(256)]);
    assert.equal((await get(mirror.url, '/v2/private/app/manifests/1')).headers['docker-content-digest'], secret.digest);
  });
  after(async () => {
    await mirror.close();
    await hub.stop();
    await other.stop();
  });
  beforeEach(() => {
    hub.reset();
    other.reset();
  });

  /** `upstream` serves its own manifest for repository:tag, but its HEAD names the secret manifest's digest. */
  function lyingHead(upstream: FakeUpstream, repository: string, tag: string): FakeManifest {
    const own = upstream.addImage(repository, tag, [randomBytes(128)]);
    upstream.manifests.get(repository)!.set(tag, { mediaType, bytes: own.bytes, digest: secret.digest });
    return own;
  }

  const cases: Array<{ name: string; fake: () => FakeUpstream; headers: Record<string, string>; repository: string }> = [
    { name: 'another upstream', fake: () => other, headers: { host: otherHost }, repository: 'team/y' },
    { name: 'another repository of the same upstream', fake: () => hub, headers: {}, repository: 'team/z' },
  ];
  for (const c of cases) {
    test(`${c.name}: the cached manifest is not served for the tag; the upstream's own manifest is fetched`, async () => {
      const up = c.fake();
      const first = up.addImage(c.repository, '1', [randomBytes(64)]);
      const r1 = await get(mirror.url, `/v2/${c.repository}/manifests/1`, { headers: c.headers });
      assert.equal(r1.headers['docker-content-digest'], first.digest);

      const own = lyingHead(up, c.repository, '1');
      now += 6 * 60_000;
      up.reset();
      const r = await get(mirror.url, `/v2/${c.repository}/manifests/1`, { headers: c.headers });
      assert.equal(r.status, 200);
      assert.notEqual(r.headers['docker-content-digest'], secret.digest, 'served the manifest cached elsewhere');
      assert.ok(!r.body.equals(secret.bytes));
      assert.equal(r.headers['docker-content-digest'], sha256(own.bytes));
      assert.ok(r.body.equals(own.bytes));
      assert.equal(up.count((q) => q.method === 'GET' && q.path === `/v2/${c.repository}/manifests/1`), 1);

      // Nor by digest: this upstream has never served or confirmed it for the repository.
      const byDigest = await get(mirror.url, `/v2/${c.repository}/manifests/${secret.digest}`, { headers: c.headers });
      assert.equal(byDigest.status, 404);
      assert.equal(errorCode(byDigest), 'MANIFEST_UNKNOWN');
    });
  }

  test('a HEAD naming a digest this repository already served is enough: no GET', async () => {
    const up = other;
    const first = up.addImage('team/w', '1', [randomBytes(64)]);
    await get(mirror.url, '/v2/team/w/manifests/1', { headers: { host: otherHost } });
    const second = up.addImage('team/w', '2', [randomBytes(64)]);
    await get(mirror.url, '/v2/team/w/manifests/2', { headers: { host: otherHost } });
    // Tag 1 moves to the manifest tag 2 names, which this repository has served.
    up.manifests.get('team/w')!.set('1', second);
    now += 6 * 60_000;
    up.reset();
    const r = await get(mirror.url, '/v2/team/w/manifests/1', { headers: { host: otherHost } });
    assert.equal(r.headers['docker-content-digest'], second.digest);
    assert.notEqual(second.digest, first.digest);
    assert.equal(up.count((q) => q.method === 'HEAD' && q.path.includes('/manifests/')), 1);
    assert.equal(up.count((q) => q.method === 'GET' && q.path.includes('/manifests/')), 0);
  });
});
