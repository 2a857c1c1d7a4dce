// containerd's own resolver and fetcher (ctr with --hosts-dir) pulling through Pullgate: containerd sends
// `?ns=<registry>` (colon percent-encoded) and the mirror routes by it; a platform pull of an index fetches only
// that platform's blobs. ctr gets no SSL_CERT_FILE, so it cannot fall back to the upstream: the pull must come
// through the mirror, whose CA is given in hosts.toml.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, beforeEach, describe, test } from 'node:test';
import { contentDigests, ctrEnvWithoutSystemCa, listImages, startContainerd, writeHostsToml, type Containerd } from '../support/containerd.js';
import { assertInstalled, ToolError } from '../support/installed-tools.js';
import {
  assertCdnNeverServed,
  assertCdnServedLayersToMirror,
  assertLayersPassedMirror,
  assertLogsHoldNoSecrets,
  assertRegistrySawMirror,
  findAccessLine,
} from '../support/pull-assertions.js';
import { parseAccessLines, startPullThroughSetup, type PullThroughSetup } from '../support/pull-through-setup.js';

const requiredPrograms = ['docker-registry', 'skopeo', 'openssl', 'containerd', 'ctr'];
const slow = { timeout: 120_000 };

test('docker-registry, skopeo, openssl, containerd and ctr are installed for the containerd e2e tests', () =>
  assertInstalled(...requiredPrograms));

describe('containerd pulling through the mirror with hosts.toml', () => {
  let s: PullThroughSetup;
  let containerd: Containerd;
  let hostsDir: string;
  /** ctr without SSL_CERT_FILE: only the hosts.toml `ca` makes a TLS peer trusted. */
  const ctrEnv = ctrEnvWithoutSystemCa;

  before(async () => {
    await assertInstalled(...requiredPrograms);
    s = await startPullThroughSetup();
    containerd = await startContainerd();
    hostsDir = join(s.work, 'certs.d');
    const mirror = `https://${s.at('root')}`;
    await writeHostsToml(hostsDir, s.reg.host, { server: `https://${s.reg.host}`, mirror, ca: s.reg.caFile });
    await writeHostsToml(hostsDir, 'docker.io', { server: 'https://registry-1.docker.io', mirror, ca: s.reg.caFile });
    await writeHostsToml(hostsDir, 'pass.upstream.test', { server: 'https://pass.upstream.test', mirror, ca: s.reg.caFile });
  }, { timeout: 180_000 });

  after(async () => {
    await containerd?.stop();
    await s?.stop();
  });

  // Each test pulls through a cold cache: what it asserts about upstream traffic must not depend on test order.
  beforeEach(() => s?.coldCache());

  test('ctr pulls team/app:1.0 of the corp registry through the mirror, routed by ?ns=127.0.0.1%3APORT', slow, async () => {
    const { app } = s.fixtures;
    s.reg.cdn.reset();
    const from = { mirror: s.mirror.logs.length, registry: s.reg.logs().length };
    const ref = `${s.reg.host}/team/app:1.0`;
    const { stderr: dump } = await containerd.ctr(['images', 'pull', '--http-dump', '--hosts-dir', hostsDir, ref], { env: ctrEnv() });
    // On the wire (ctr's own dump): the colon percent-encoded, and the mirror echoing the namespace decoded.
    const encodedNs = `?ns=${s.reg.host.replace(':', '%3A')}`;
    assert.ok(dump.includes(`HEAD /v2/team/app/manifests/1.0${encodedNs} HTTP/1.1`), `ctr did not send ${encodedNs}:\n${dump.slice(0, 2000)}`);
    assert.match(dump, new RegExp(`Oci-Namespace: ${s.reg.host.replace(/\./g, '\\.')}"`, 'i'));

    const image = (await listImages(containerd)).find((i) => i.name === ref);
    assert.ok(image, `ctr images ls does not list ${ref}`);
    assert.equal(image.digest, app.digest);
    const content = await contentDigests(containerd);
    for (const layer of app.layers) assert.ok(content.has(layer.digest), `layer ${layer.digest} is not in containerd's content store`);

    const lines = parseAccessLines(s.logsSince(from.mirror));
    const ns = encodedNs;
    const resolved = lines.find((l) => l.url === `/v2/team/app/manifests/1.0${ns}`);
    assert.ok(resolved, `no manifest request with ${ns} in the mirror log:\n${lines.map((l) => l.url).join('\n')}`);
    assert.equal(resolved.upstream, 'corp');
    assert.equal(resolved.repository, 'team/app');
    assert.equal(resolved.status, 200);
    assert.equal(resolved.host, s.at('root'));
    findAccessLine(lines, { method: 'GET', url: `/v2/team/app/manifests/${app.digest}${ns}`, upstream: 'corp', status: 200 });
    assertLayersPassedMirror(lines, app.layers, 'corp', 'team/app');
    assert.ok(lines.every((l) => l.url === '/v2/' || l.url.endsWith(ns)), 'a request without ns reached the mirror');
    assertCdnServedLayersToMirror(s.reg, app.layers);
    // ctr resolves the tag with a HEAD, which the mirror answers by fetching (and caching) the manifest, so its
    // GET by digest that follows is served from the cache.
    assertRegistrySawMirror(s.reg, from.registry, '/v2/team/app/manifests/1.0');
    findAccessLine(lines, { method: 'GET', url: `/v2/team/app/manifests/${app.digest}${ns}`, upstream: 'corp', status: 200, cache: 'HIT' });
  });

  test('ctr --platform linux/arm64 pulls only the arm64 image of library/multi:latest through the docker.io mirror (ns=docker.io)', slow, async () => {
    const { multi } = s.fixtures;
    const arm64 = multi.children['linux/arm64'];
    const amd64 = multi.children['linux/amd64'];
    assert.ok(arm64 && amd64, 'the multi fixture has no linux/arm64 or linux/amd64 child');
    s.reg.cdn.reset();
    const from = s.mirror.logs.length;
    const ref = 'docker.io/library/multi:latest';
    await containerd.ctr(['images', 'pull', '--platform', 'linux/arm64', '--hosts-dir', hostsDir, ref], { env: ctrEnv() });

    const image = (await listImages(containerd)).find((i) => i.name === ref);
    assert.ok(image, `ctr images ls does not list ${ref}`);
    assert.equal(image.digest, multi.digest);
    const content = await contentDigests(containerd);
    assert.ok(content.has(arm64.digest), 'the arm64 manifest is not in the content store');
    for (const layer of arm64.layers) assert.ok(content.has(layer.digest), `arm64 layer ${layer.digest} is not in the content store`);
    for (const layer of amd64.layers) assert.ok(!content.has(layer.digest), `amd64 layer ${layer.digest} was fetched`);

    const lines = parseAccessLines(s.logsSince(from));
    findAccessLine(lines, { url: '/v2/library/multi/manifests/latest?ns=docker.io', upstream: 'hub', repository: 'library/multi', status: 200 });
    findAccessLine(lines, { method: 'GET', url: `/v2/library/multi/manifests/${arm64.digest}?ns=docker.io`, upstream: 'hub', status: 200 });
    assert.ok(!lines.some((l) => l.url.includes(amd64.digest)), 'the amd64 manifest was requested');
    assertLayersPassedMirror(lines, arm64.layers, 'hub', 'library/multi');
    assertCdnServedLayersToMirror(s.reg, arm64.layers);
    assertCdnNeverServed(s.reg, amd64.layers);
  });

  test('ctr --user pulls private/secret:1.0 through the passthrough entry (ns=pass.upstream.test), the mirror relaying its OAuth2 POST; without credentials it is refused', slow, async () => {
    const { secret } = s.fixtures;
    s.reg.cdn.reset();
    s.reg.tokenServer.reset();
    let from = s.mirror.logs.length;
    // pass.upstream.test does not resolve: the mirror is the only way to it.
    const ref = 'pass.upstream.test/private/secret:1.0';
    await containerd.ctr(['images', 'pull', '--user', 'reader:reader-secret', '--hosts-dir', hostsDir, ref], { env: ctrEnv() });

    const image = (await listImages(containerd)).find((i) => i.name === ref);
    assert.ok(image, `ctr images ls does not list ${ref}`);
    assert.equal(image.digest, secret.digest);
    const content = await contentDigests(containerd);
    for (const layer of secret.layers) assert.ok(content.has(layer.digest), `layer ${layer.digest} is not in containerd's content store`);

    // containerd answers the rewritten challenge with an OAuth2 password grant to the mirror, which relays it.
    const relayed = s.reg.tokenServer.requests.filter((r) => r.method === 'POST' && r.grantType === 'password' && r.user === 'reader' && r.status === 200);
    assert.ok(relayed.length > 0, 'the token server saw no password grant for reader');
    for (const r of relayed) assert.match(String(r.headers['user-agent']), /^pullgate/);
    const lines = parseAccessLines(s.logsSince(from));
    const ns = '?ns=pass.upstream.test';
    findAccessLine(lines, { method: 'HEAD', url: `/v2/private/secret/manifests/1.0${ns}`, upstream: 'pass', status: 401 });
    findAccessLine(lines, { method: 'HEAD', url: `/v2/private/secret/manifests/1.0${ns}`, upstream: 'pass', repository: 'private/secret', status: 200 });
    assertLayersPassedMirror(lines, secret.layers, 'pass', 'private/secret');
    assertCdnServedLayersToMirror(s.reg, secret.layers);

    s.reg.tokenServer.reset();
    from = s.mirror.logs.length;
    const refused = containerd.ctr(['images', 'pull', '--hosts-dir', hostsDir, ref], { env: ctrEnv() });
    await assert.rejects(refused, (err: unknown) => err instanceof ToolError && /denied|unauthorized|authorization/i.test(err.stderr));
    assert.ok(s.reg.tokenServer.requests.every((r) => r.user === undefined), 'an anonymous pull authenticated at the token server');
    assert.ok(parseAccessLines(s.logsSince(from)).every((l) => l.status !== 200), 'the mirror served something to an anonymous passthrough pull');
  });

  test('the mirror log never holds containerd\'s password or any token', () => {
    assertLogsHoldNoSecrets(s.mirror.logs, [{ user: 'reader', password: 'reader-secret' }]);
  });
});
