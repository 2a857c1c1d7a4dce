// Access follows the repository in passthrough mode (docs/architecture.md, "Decision: access follows the repository"
// and "Decision: two auth modes per upstream"): content that one client's pull put in the cache is served to another
// client only once the upstream has accepted that client's own token for that repository, an answer remembered for the
// token's lifetime; and a digest cached under one repository is served under another only if the upstream says that
// repository holds it.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, beforeEach, describe, test } from 'node:test';
import { parseDigest } from '../../src/registry/digest.js';
import { FakeUpstream, sha256, type FakeManifest, type SeenRequest } from '../support/fake/fake-upstream.js';
import { errorCode, get, type Fetched } from '../support/fake/mirror-over-fake.js';
import { startMirror, type TestMirror } from '../support/mirror-app.js';
import { httpsListener, protocols, registryClient, type RegistryClient } from '../support/registry-client.js';

const passHost = 'pass.mirror.test';
const passwords: Record<string, string> = { alice: 'pw', bob: 'pw2', carol: 'pw3' };

async function eventually(what: string, check: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) assert.fail(`timed out waiting until ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

for (const protocol of protocols) describe(`passthrough mode: cached content follows the client's access to the repository (${protocol})`, () => {
  let up: FakeUpstream;
  let mirror: TestMirror;
  let c: RegistryClient;
  const challenge = (repository: string) =>
    `Bearer realm="${c.scheme}://${passHost}/token/pass",service="fake-registry",scope="repository:${repository}:pull"`;
  let now = Date.parse('2025-01-01T00:00:00Z');
  const layer = randomBytes(64 * 1024);
  const layerDigest = sha256(layer);
  let image: FakeManifest;
  let config: string;

  /** A token from the mirror's relay, as a client gets it after a challenge: Basic for a user, nothing for anonymous. */
  async function tokenFor(user: string | undefined, ...repositories: string[]): Promise<string> {
    const scopes = repositories.map((r) => `scope=${encodeURIComponent(`repository:${r}:pull`)}`).join('&');
    const headers: Record<string, string> = { host: passHost };
    if (user) headers.authorization = `Basic ${Buffer.from(`${user}:${passwords[user] ?? ''}`).toString('base64')}`;
    const r = await get(c, `/token/pass?service=fake-registry&${scopes}`, { headers });
    assert.equal(r.status, 200, `token for ${user ?? 'anonymous'}`);
    return (JSON.parse(r.body.toString('utf8')) as { token: string }).token;
  }

  const as = (token?: string): Record<string, string> => (token ? { host: passHost, authorization: `Bearer ${token}` } : { host: passHost });
  const describeRequests = (rs: SeenRequest[]) => rs.map((r) => `${r.method} ${r.path} ${r.headers.authorization ?? '(anonymous)'}`).join(', ');

  function assertChallenged(r: Fetched, repository: string): void {
    assert.equal(r.status, 401);
    assert.equal(errorCode(r), 'UNAUTHORIZED');
    assert.equal(r.headers['www-authenticate'], challenge(repository));
    assert.ok(!r.body.includes(layer.subarray(0, 64)), 'no cached bytes in the refusal');
  }

  before(async () => {
    up = await new FakeUpstream({ auth: true, users: passwords, grants: { carol: ['private/b'] }, tokenExpiresIn: 300 }).start();
    image = up.addImage('private/a', '1', [layer]);
    up.addImage('private/b', '1', [randomBytes(1024)]);
    // Only private/a holds the layer; the upstream answers 404 for it anywhere else.
    up.blobRepositories.set(layerDigest, new Set(['private/a']));
    config = (JSON.parse(image.bytes.toString('utf8')) as { config: { digest: string } }).config.digest;
    mirror = await startMirror(
      {
        ...(await httpsListener()),
        upstreams: [
          { name: 'pass', registry: 'pass.example.test', url: up.url, default: true, hosts: [passHost], auth: { mode: 'passthrough' }, tagTtl: '24h' },
        ],
      },
      { clock: () => now },
    );
    c = await registryClient(protocol, mirror);

    // alice pulls private/a: the manifest, its config and its layer are now cached.
    const alice = await tokenFor('alice', 'private/a');
    assert.equal((await get(c, '/v2/private/a/manifests/1', { headers: as(alice) })).status, 200);
    for (const digest of [config, layerDigest]) {
      const b = await get(c, `/v2/private/a/blobs/${digest}`, { headers: as(alice) });
      assert.equal(b.status, 200);
      assert.equal(sha256(b.body), digest);
    }
    await eventually('alice\'s blobs are committed', () => [config, layerDigest].every((d) => mirror.app.cache.index.blob(parseDigest(d))));
    assert.equal(mirror.app.cache.index.manifest(parseDigest(image.digest))?.digest, image.digest);
  });
  after(async () => {
    await c.close();
    await mirror.close();
    await up.stop();
  });
  beforeEach(() => up.reset());

  test('an anonymous client gets the upstream\'s 401 with the mirror\'s realm, not the cached blob or manifest', async () => {
    for (const path of [`/v2/private/a/blobs/${layerDigest}`, `/v2/private/a/manifests/${image.digest}`, '/v2/private/a/manifests/1']) {
      up.reset();
      const r = await get(c, path, { headers: as() });
      assertChallenged(r, 'private/a');
      // The refusal is the upstream's own answer to this client, not a guess of the mirror's.
      assert.ok(up.requests.some((q) => q.method === 'HEAD' && q.headers.authorization === undefined), `${path}: ${describeRequests(up.requests)}`);
      assert.equal(up.count((q) => q.method === 'GET' && q.path.startsWith('/v2/private/')), 0);
    }
  });

  test('another user is served from the cache only after a HEAD with their own token reached the upstream', async () => {
    const bob = await tokenFor('bob', 'private/a');
    up.reset();
    const r = await get(c, `/v2/private/a/blobs/${layerDigest}`, { headers: as(bob) });
    assert.equal(r.status, 200);
    assert.ok(r.body.equals(layer));
    assert.equal(up.requests.length, 1, describeRequests(up.requests));
    const [check] = up.requests;
    assert.equal(check?.method, 'HEAD');
    assert.equal(check?.path, `/v2/private/a/blobs/${layerDigest}`);
    assert.equal(check?.headers.authorization, `Bearer ${bob}`);

    // Within the token's lifetime the answer is remembered: the rest of bob's pull never reaches the upstream.
    now += 30_000;
    up.reset();
    const byDigest = await get(c, `/v2/private/a/manifests/${image.digest}`, { headers: as(bob) });
    assert.deepEqual(byDigest.body, image.bytes);
    const byTag = await get(c, '/v2/private/a/manifests/1', { headers: as(bob) });
    assert.equal(byTag.headers['docker-content-digest'], image.digest);
    for (const digest of [config, layerDigest]) {
      const b = await get(c, `/v2/private/a/blobs/${digest}`, { headers: as(bob) });
      assert.equal(sha256(b.body), digest);
    }
    assert.equal(up.requests.length, 0, describeRequests(up.requests));

    // Past any token lifetime the upstream is asked again.
    now += 2 * 3_600_000;
    up.reset();
    const later = await get(c, `/v2/private/a/blobs/${layerDigest}`, { headers: as(bob) });
    assert.ok(later.body.equals(layer));
    assert.equal(up.count((q) => q.method === 'HEAD' && q.headers.authorization === `Bearer ${bob}`), 1);
  });

  test('a user whose token the upstream refuses for the repository gets its 401, not the cached content', async () => {
    const carol = await tokenFor('carol', 'private/a');
    for (const path of [`/v2/private/a/blobs/${layerDigest}`, `/v2/private/a/manifests/${image.digest}`, '/v2/private/a/manifests/1']) {
      up.reset();
      const r = await get(c, path, { headers: as(carol) });
      assertChallenged(r, 'private/a');
      assert.ok(up.requests.some((q) => q.method === 'HEAD' && q.headers.authorization === `Bearer ${carol}`), path);
    }
  });

  test('a digest cached under one repository is not served under another that the upstream says does not hold it', async () => {
    const alice = await tokenFor('alice', 'private/a', 'private/b');
    up.reset();
    const blob = await get(c, `/v2/private/b/blobs/${layerDigest}`, { headers: as(alice) });
    assert.equal(blob.status, 404);
    assert.equal(errorCode(blob), 'BLOB_UNKNOWN');
    const manifest = await get(c, `/v2/private/b/manifests/${image.digest}`, { headers: as(alice) });
    assert.equal(manifest.status, 404);
    assert.equal(errorCode(manifest), 'MANIFEST_UNKNOWN');
    assert.equal(up.count((q) => q.method === 'HEAD' && q.path.startsWith('/v2/private/b/')), 2);
    assert.equal(up.count((q) => q.method === 'GET' && q.path.startsWith('/v2/private/')), 0);

    // The same token still gets it under the repository that holds it.
    const home = await get(c, `/v2/private/a/blobs/${layerDigest}`, { headers: as(alice) });
    assert.ok(home.body.equals(layer));
    // And a refusal is not remembered as a confirmation.
    up.reset();
    assert.equal((await get(c, `/v2/private/b/blobs/${layerDigest}`, { headers: as(alice) })).status, 404);
    assert.equal(up.count((q) => q.method === 'HEAD' && q.path === `/v2/private/b/blobs/${layerDigest}`), 1);
  });

  // docs/security.md ("In passthrough mode, cached content reaches a client only after the upstream has accepted that
  // client's own credential"): an upstream that cannot answer accepts no one, so a stale tag is served only to a
  // client whose credential the upstream accepted for the repository within that credential's lifetime.
  test('with the upstream failing, a stale tag is served only to a client the upstream accepted, not to anyone else', async () => {
    const carol = await tokenFor('carol', 'private/a');
    const bob = await tokenFor('bob', 'private/a');
    // Past the tag's TTL: the next pull by tag revalidates with a HEAD.
    now += 25 * 3_600_000;
    // bob's token is accepted for private/a by a HEAD of the manifest's digest (the tag itself stays stale).
    up.reset();
    assert.equal((await get(c, `/v2/private/a/manifests/${image.digest}`, { headers: as(bob) })).status, 200);
    assert.equal(up.count((q) => q.method === 'HEAD' && q.headers.authorization === `Bearer ${bob}`), 1, describeRequests(up.requests));

    up.faults.serverError = 503;
    for (const [who, token] of [['anonymous', undefined], ['carol', carol], ['a forged token', 'forged.token']] as const) {
      const r = await get(c, '/v2/private/a/manifests/1', { headers: as(token) });
      assert.notEqual(r.status, 200, `${who}: ${r.status} ${String(r.headers['x-cache'] ?? '')}`);
      assert.ok(!r.body.includes(image.bytes), `${who}: no cached manifest in the answer`);
      assert.notEqual(r.headers['docker-content-digest'], image.digest, who);
    }
    const served = await get(c, '/v2/private/a/manifests/1', { headers: as(bob) });
    assert.equal(served.status, 200);
    assert.deepEqual(served.body, image.bytes);
  });
});
