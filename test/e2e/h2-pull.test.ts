// An HTTP/2 client (as curl, go-containerregistry and oras-go clients negotiate by ALPN) pulls whole multi-platform
// images through the mirror from a real docker-registry: by a hostname mapped to an upstream, and through a
// passthrough upstream with its own credentials, doing the token dance against the realm the mirror names. Every
// manifest and blob is compared byte for byte with what the upstream holds.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { after, before, beforeEach, describe, test } from 'node:test';
import { parseChallenges } from '../../src/upstream/challenge.js';
import type { FixtureImage } from '../support/fixture-images.js';
import { assertInstalled } from '../support/installed-tools.js';
import type { Descriptor } from '../support/oci-layout.js';
import { findAccessLine } from '../support/pull-assertions.js';
import { parseAccessLines, sha256, startPullThroughSetup, type MirrorName, type PullThroughSetup } from '../support/pull-through-setup.js';
import { registryClient, type RegistryClient } from '../support/registry-client.js';

const requiredPrograms = ['docker-registry', 'skopeo', 'openssl', 'curl'];
const run = promisify(execFile);
const slow = { timeout: 120_000 };
const accept = [
  'application/vnd.oci.image.index.v1+json',
  'application/vnd.oci.image.manifest.v1+json',
  'application/vnd.docker.distribution.manifest.list.v2+json',
  'application/vnd.docker.distribution.manifest.v2+json',
].join(', ');

test('docker-registry, skopeo, openssl and curl are installed for the HTTP/2 pull', () => assertInstalled(...requiredPrograms));

describe('an HTTP/2 client pulls multi-platform images through the mirror', () => {
  let s: PullThroughSetup;
  const clients: RegistryClient[] = [];

  /** An h2 client dialling the mirror by `name` (SNI and :authority both name it, as a real client's do). */
  async function clientFor(name: MirrorName): Promise<RegistryClient> {
    const c = await registryClient('h2', s.mirror, { ca: s.reg.ca.caCertPem, origin: `https://${s.at(name)}` });
    clients.push(c);
    return c;
  }

  /**
   * The client's side of a pull: `/v2/`, the token dance at the realm the challenge names (it must be the host the
   * client dialled), then the manifest, every child manifest and every blob, each checked against the fixture.
   */
  async function pull(c: RegistryClient, name: MirrorName, image: FixtureImage, basic?: string): Promise<{ token?: string }> {
    const headers: Record<string, string> = {};
    const ping = await c.fetch('/v2/');
    let token: string | undefined;
    if (ping.status === 401) {
      const [challenge] = parseChallenges(String(ping.headers['www-authenticate']));
      const realm = new URL(challenge?.params.realm ?? '');
      assert.equal(realm.origin, `https://${s.at(name)}`, 'the realm names the host the client dialled');
      realm.searchParams.set('service', challenge?.params.service ?? '');
      realm.searchParams.set('scope', `repository:${image.repository}:pull`);
      const t = await c.fetch(realm.pathname + realm.search, { headers: basic ? { authorization: basic } : {} });
      assert.equal(t.status, 200, `token: ${t.body.toString()}`);
      token = (JSON.parse(t.body.toString()) as { token: string }).token;
      headers.authorization = `Bearer ${token}`;
    } else {
      assert.equal(ping.status, 200);
    }
    const top = await c.fetch(`/v2/${image.repository}/manifests/${image.tag}`, { headers: { ...headers, accept } });
    assert.equal(top.status, 200, top.body.toString());
    assert.ok(top.body.equals(image.raw), 'the index bytes are the upstream\'s');
    assert.equal(top.headers['docker-content-digest'], image.digest);
    assert.equal(top.headers['content-type'], image.mediaType);
    const children = Object.values(image.children);
    assert.ok(children.length >= 2, 'a multi-platform image');
    const blobs: Descriptor[] = [];
    for (const child of children) {
      const m = await c.fetch(`/v2/${image.repository}/manifests/${child.digest}`, { headers: { ...headers, accept } });
      assert.equal(m.status, 200);
      assert.ok(m.body.equals(child.raw), `the ${child.digest} manifest bytes are the upstream's`);
      blobs.push(child.config, ...child.layers);
    }
    for (const blob of blobs) {
      const b = await c.fetch(`/v2/${image.repository}/blobs/${blob.digest}`, { headers });
      assert.equal(b.status, 200);
      assert.equal(b.body.length, blob.size);
      assert.equal(sha256(b.body), blob.digest);
    }
    return token ? { token } : {};
  }

  before(async () => {
    await assertInstalled(...requiredPrograms);
    s = await startPullThroughSetup();
  }, { timeout: 180_000 });
  after(async () => {
    for (const c of clients) await c.close();
    await s?.stop();
  });
  beforeEach(() => s?.coldCache());

  test('by a mapped hostname: the OCI index and the Docker manifest list come from that hostname\'s upstream', slow, async () => {
    const c = await clientFor('corp');
    const from = s.mark();
    for (const image of [s.fixtures.multi, s.fixtures.multiDocker]) await pull(c, 'corp', image);
    const lines = parseAccessLines(s.logsSince(from.mirror)).filter((l) => l.url.startsWith('/v2/library/'));
    assert.ok(lines.length > 0);
    for (const l of lines) {
      assert.equal(l.upstream, 'corp', l.url);
      assert.equal(l.host, s.at('corp'), l.url);
      assert.equal((l as { http?: string }).http, '2.0', l.url);
    }
    findAccessLine(lines, { url: `/v2/library/multi/manifests/latest`, upstream: 'corp', status: 200 });
    // corp holds reader's credentials: the upstream's token server saw the mirror ask as reader.
    assert.ok(s.reg.tokenServer.requests.some((r) => r.user === 'reader' && r.status === 200));
  });

  test('a private image by the mapped hostname of an upstream whose credentials the mirror holds', slow, async () => {
    const c = await clientFor('corp');
    const secret = s.fixtures.secret;
    const m = await c.fetch(`/v2/${secret.repository}/manifests/${secret.tag}`, { headers: { accept } });
    assert.equal(m.status, 200, m.body.toString());
    assert.ok(m.body.equals(secret.raw));
    for (const layer of secret.layers) {
      const b = await c.fetch(`/v2/${secret.repository}/blobs/${layer.digest}`);
      assert.equal(sha256(b.body), layer.digest);
    }
  });

  test('through a passthrough upstream with the client\'s credentials, relayed to the real token server', slow, async () => {
    const c = await clientFor('pass');
    const basic = `Basic ${Buffer.from('reader:reader-secret').toString('base64')}`;
    const from = s.mark();
    await pull(c, 'pass', s.fixtures.multi, basic);
    assert.ok(s.reg.tokenServer.requests.some((r) => r.user === 'reader' && r.status === 200), 'the client\'s credentials reached the token server');
    const lines = parseAccessLines(s.logsSince(from.mirror)).filter((l) => l.url.startsWith('/v2/library/'));
    assert.ok(lines.length > 0);
    for (const l of lines) assert.equal(l.upstream, 'pass', l.url);

    // The same client without credentials is refused the private image; with them, it is served.
    const anonymous = await c.fetch(`/v2/${s.fixtures.secret.repository}/manifests/${s.fixtures.secret.tag}`, { headers: { accept } });
    assert.equal(anonymous.status, 401);
    assert.equal(new URL(parseChallenges(String(anonymous.headers['www-authenticate']))[0]?.params.realm ?? '').origin, `https://${s.at('pass')}`);
    const secret = s.fixtures.secret;
    const realm = `/token/pass?service=${encodeURIComponent(s.reg.tokenServer.service)}&scope=${encodeURIComponent(`repository:${secret.repository}:pull`)}`;
    const t = await c.fetch(realm, { headers: { authorization: basic } });
    const token = (JSON.parse(t.body.toString()) as { token: string }).token;
    const m = await c.fetch(`/v2/${secret.repository}/manifests/${secret.tag}`, { headers: { accept, authorization: `Bearer ${token}` } });
    assert.equal(m.status, 200);
    assert.ok(m.body.equals(secret.raw));
  });

  for (const http of ['--http1.1', '--http2'] as const) {
    test(`curl ${http} by the passthrough hostname gets the passthrough upstream's challenge, its realm on that hostname`, slow, async () => {
      const url = `https://${s.at('pass')}/v2/${s.fixtures.secret.repository}/manifests/${s.fixtures.secret.tag}`;
      const { stdout } = await run('curl', ['-sS', http, '--cacert', s.reg.caFile, '-o', '/dev/null', '-D', '-', '-w', '%{http_version}\\n', url]);
      const lines = stdout.trim().split(/\r?\n/);
      assert.equal(lines.at(-1), http === '--http2' ? '2' : '1.1', 'the protocol curl spoke');
      assert.match(lines[0] ?? '', /^HTTP\/[\d.]+ 401/);
      const challenge = lines.find((l) => /^www-authenticate:/i.test(l)) ?? '';
      assert.ok(challenge.includes(`realm="https://${s.at('pass')}/token/pass"`), challenge);
    });
  }
});
