// Self-test of the real-upstream harness: Debian's docker-registry behind token auth and a CDN, driven by
// real skopeo. A missing program fails the suite (before hook) with the apt-get line that fixes it.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { Agent, request } from 'undici';
import { pushFixtures, writeLargeBlob, type Fixtures } from '../support/fixture-images.js';
import { assertInstalled, ToolError } from '../support/installed-tools.js';
import { mediaTypes } from '../support/oci-layout.js';
import { startRealRegistry, type RealRegistry } from '../support/real-registry.js';
import { inspectRaw, skopeo } from '../support/skopeo.js';
import { decodeToken } from '../support/token-signer.js';

interface TokenBody {
  token: string;
  access_token: string;
  expires_in: number;
  issued_at: string;
  refresh_token?: string;
}

const requiredPrograms = ['docker-registry', 'skopeo', 'openssl'];

// Counted as a failure of its own, so a machine without the packages shows `fail 1`, not only cancellations.
test('docker-registry, skopeo and openssl are installed', () => assertInstalled(...requiredPrograms));

describe('the real-registry harness', () => {
  let reg: RealRegistry;
  let fixtures: Fixtures;
  let work: string;
  let agent: Agent;
  const extraRegistries: RealRegistry[] = [];

  const sha256 = (data: Buffer): string => `sha256:${createHash('sha256').update(data).digest('hex')}`;
  const basic = (user: string, password: string): string => `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;

  async function getToken(query: string, authorization?: string): Promise<{ status: number; body: TokenBody }> {
    const res = await request(`${reg.tokenServer.realm}?${query}`, {
      dispatcher: agent,
      headers: authorization === undefined ? {} : { authorization },
    });
    return { status: res.statusCode, body: (await res.body.json()) as TokenBody };
  }

  async function getBytes(url: string, headers: Record<string, string> = {}) {
    const res = await request(url, { dispatcher: agent, headers });
    return { status: res.statusCode, headers: res.headers, body: Buffer.from(await res.body.arrayBuffer()) };
  }

  before(async () => {
    await assertInstalled(...requiredPrograms);
    work = await mkdtemp(join(tmpdir(), 'pullgate-e2e-'));
    reg = await startRealRegistry();
    agent = new Agent({ connect: { ca: reg.ca.caCertPem } });
    fixtures = await pushFixtures(reg);
  });

  after(async () => {
    await agent?.close();
    await Promise.all([reg?.stop(), ...extraRegistries.map((r) => r.stop())]);
    if (work !== undefined) await rm(work, { recursive: true, force: true });
  });

  test('anonymous skopeo inspect of library/alpine returns the pushed Docker schema2 manifest', async () => {
    const { raw, digest } = await inspectRaw(fixtures.alpine.reference, { certDir: reg.ca.certDir });
    assert.equal(digest, fixtures.alpine.digest);
    assert.equal(fixtures.alpine.mediaType, mediaTypes.dockerManifest);
    assert.equal(JSON.parse(raw.toString('utf8')).mediaType, mediaTypes.dockerManifest);
  });

  test('anonymous skopeo copy of library/alpine trusts SSL_CERT_FILE and gets every blob from the CDN without Authorization', async () => {
    reg.cdn.reset();
    const dest = join(work, 'alpine-layout');
    await skopeo(['copy', '--quiet', '--src-no-creds', `docker://${fixtures.alpine.reference}`, `oci:${dest}:3.20`], { env: reg.clientEnv() });
    const [layer] = fixtures.alpine.layers;
    assert.ok(layer);
    const copied = await readFile(join(dest, 'blobs', 'sha256', layer.digest.slice(7)));
    assert.equal(sha256(copied), layer.digest);
    const layerHits = reg.cdn.requests.filter((r) => r.path.endsWith(`/${layer.digest.slice(7)}/data`) && r.method === 'GET');
    assert.equal(layerHits.length, 1);
    assert.ok(reg.cdn.requests.every((r) => !r.hasAuthorization), 'skopeo sent Authorization to the CDN');
    assert.ok(reg.cdn.bytesSent() >= layer.size);
  });

  test('private/secret is refused to anonymous skopeo', async () => {
    await assert.rejects(inspectRaw(fixtures.secret.reference, { certDir: reg.ca.certDir }), (err: unknown) => {
      assert.ok(err instanceof ToolError);
      assert.match(err.stderr, /unauthorized|denied|authentication required/i);
      return true;
    });
  });

  test('private/secret can be copied with --src-creds', async () => {
    const dest = join(work, 'secret-layout');
    await skopeo(['copy', '--quiet', '--src-cert-dir', reg.ca.certDir, '--src-creds', 'reader:reader-secret',
      `docker://${fixtures.secret.reference}`, `oci:${dest}:1.0`]);
    const index = JSON.parse(await readFile(join(dest, 'index.json'), 'utf8')) as { manifests: unknown[] };
    assert.equal(index.manifests.length, 1);
    const [layer] = fixtures.secret.layers;
    assert.ok(layer);
    assert.equal(sha256(await readFile(join(dest, 'blobs', 'sha256', layer.digest.slice(7)))), layer.digest);
  });

  test('a blob GET with a token is redirected (307) to the CDN, which serves the bytes without Docker-Content-Digest', async () => {
    const [layer] = fixtures.app.layers;
    assert.ok(layer);
    const { status, body } = await getToken(`service=${reg.tokenServer.service}&scope=repository:team/app:pull`);
    assert.equal(status, 200);
    const redirect = await request(`${reg.url}/v2/team/app/blobs/${layer.digest}`, {
      dispatcher: agent,
      headers: { authorization: `Bearer ${body.token}` },
    });
    await redirect.body.dump();
    assert.equal(redirect.statusCode, 307);
    const location = String(redirect.headers['location']);
    assert.ok(location.startsWith(`${reg.cdn.url}/docker/registry/v2/blobs/sha256/`), location);

    reg.cdn.reset();
    const fetched = await getBytes(location);
    assert.equal(fetched.status, 200);
    assert.equal(fetched.headers['docker-content-digest'], undefined);
    assert.equal(sha256(fetched.body), layer.digest);
    assert.equal(reg.cdn.requests.length, 1);
    assert.equal(reg.cdn.requests[0]?.hasAuthorization, false);
    assert.equal(reg.cdn.bytesSent(), layer.size);

    const partial = await getBytes(location, { range: 'bytes=10-19' });
    assert.equal(partial.status, 206);
    assert.equal(partial.headers['content-range'], `bytes 10-19/${layer.size}`);
    assert.deepEqual(partial.body, fetched.body.subarray(10, 20));
  });

  test('the multi-arch fixtures are an OCI index and a Docker manifest list with amd64 and arm64 children', () => {
    assert.equal(fixtures.multi.mediaType, mediaTypes.ociIndex);
    assert.equal(fixtures.multiDocker.mediaType, mediaTypes.dockerManifestList);
    for (const image of [fixtures.multi, fixtures.multiDocker]) {
      assert.deepEqual(Object.keys(image.children).sort(), ['linux/amd64', 'linux/arm64']);
      for (const child of Object.values(image.children)) assert.equal(sha256(child.raw), child.digest);
    }
    assert.equal(fixtures.app.mediaType, mediaTypes.ociManifest);
    assert.equal(fixtures.app.layers.length, 2);
  });

  test('the token server returns denied scopes with empty actions and rejects a wrong password with 401', async () => {
    reg.tokenServer.reset();
    const anonymous = await getToken(`service=${reg.tokenServer.service}&scope=repository:private/secret:pull&scope=repository:library/alpine:pull,push`);
    assert.equal(anonymous.status, 200);
    const { claims } = decodeToken(anonymous.body.token);
    assert.deepEqual(claims.access, [
      { type: 'repository', name: 'private/secret', actions: [] },
      { type: 'repository', name: 'library/alpine', actions: ['pull'] },
    ]);
    assert.equal(claims.aud, reg.tokenServer.service);
    assert.equal(anonymous.body.expires_in, 300);

    const wrong = await getToken(`service=${reg.tokenServer.service}&scope=repository:private/secret:pull`, basic('reader', 'nope'));
    assert.equal(wrong.status, 401);
    assert.deepEqual(reg.tokenServer.requests.map((r) => [r.hasAuthorization, r.status]), [[false, 200], [true, 401]]);
  });

  test('the OAuth2 password grant returns a refresh token that the refresh_token grant accepts', async () => {
    const post = async (form: Record<string, string>) => {
      const res = await request(reg.tokenServer.realm, {
        method: 'POST',
        dispatcher: agent,
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams(form).toString(),
      });
      return { status: res.statusCode, body: (await res.body.json()) as TokenBody };
    };
    const common = { service: reg.tokenServer.service, client_id: 'pullgate-test', scope: 'repository:private/secret:pull' };
    const first = await post({ ...common, grant_type: 'password', username: 'reader', password: 'reader-secret', access_type: 'offline' });
    assert.equal(first.status, 200);
    assert.ok(first.body.refresh_token);
    assert.deepEqual(decodeToken(first.body.access_token).claims.access[0]?.actions, ['pull']);
    const refreshed = await post({ ...common, grant_type: 'refresh_token', refresh_token: first.body.refresh_token });
    assert.equal(refreshed.status, 200);
    assert.equal(decodeToken(refreshed.body.access_token).claims.sub, 'reader');
    const wrong = await post({ ...common, grant_type: 'password', username: 'reader', password: 'nope' });
    assert.equal(wrong.status, 401);
  });

  test('writeLargeBlob places a blob that the registry redirects to the CDN and the CDN streams', async () => {
    const blob = await writeLargeBlob(reg, 'bench/large', 8 * 1024 * 1024);
    const token = reg.tokenServer.mint([{ type: 'repository', name: 'bench/large', actions: ['pull'] }]);
    const redirect = await request(`${reg.url}/v2/bench/large/blobs/${blob.digest}`, { dispatcher: agent, headers: { authorization: `Bearer ${token}` } });
    await redirect.body.dump();
    assert.equal(redirect.statusCode, 307);
    const fetched = await getBytes(String(redirect.headers['location']));
    assert.equal(fetched.body.length, blob.size);
    assert.equal(sha256(fetched.body), blob.digest);
  });

  test('a registry without redirects serves blobs itself and accepts tokens that name their key by libtrust kid', async () => {
    const direct = await startRealRegistry({ redirectBlobs: false, keyIdMode: 'kid' });
    extraRegistries.push(direct);
    const blob = await writeLargeBlob(direct, 'bench/direct', 1024 * 1024);
    const token = direct.tokenServer.mint([{ type: 'repository', name: 'bench/direct', actions: ['pull'] }]);
    assert.ok(decodeToken(token).header.kid);
    const directAgent = new Agent({ connect: { ca: direct.ca.caCertPem } });
    const res = await request(`${direct.url}/v2/bench/direct/blobs/${blob.digest}`, {
      dispatcher: directAgent,
      headers: { authorization: `Bearer ${token}` },
    });
    const body = Buffer.from(await res.body.arrayBuffer());
    await directAgent.close();
    assert.equal(res.statusCode, 200);
    assert.equal(res.headers['docker-content-digest'], blob.digest);
    assert.equal(sha256(body), blob.digest);
    assert.equal(direct.cdn.requests.length, 0);
  });

  test('a registry started with auth false answers /v2/ without a token', async () => {
    const open = await startRealRegistry({ auth: false });
    extraRegistries.push(open);
    const openAgent = new Agent({ connect: { ca: open.ca.caCertPem } });
    const res = await request(`${open.url}/v2/`, { dispatcher: openAgent });
    await res.body.dump();
    await openAgent.close();
    assert.equal(res.statusCode, 200);
  });
});
