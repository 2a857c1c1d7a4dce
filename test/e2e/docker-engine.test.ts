// The Docker Engine itself (Debian's dockerd, classic image store) pulling through Pullgate: with
// `registry-mirrors` naming the mirror, short Docker Hub names, an OCI index, a Docker manifest list and a large
// layer come through the mirror (mirroring "Docker Hub" = the test registry); a second, fresh engine pulls them
// again with the upstream stopped, from the cache; `docker pull <mirror-host>/<repository>` reaches a host-mapped
// upstream. Docker Hub's own names lead to a sentinel that counts connections, so a fallback from the mirror to
// Docker Hub can be seen (and never reaches the internet). And what Docker does with a mirror that requires a
// login: it asks the mirror's token endpoint with the Docker Hub credentials its client holds, or anonymously
// without any; refused, it falls back to Docker Hub.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { hashPassword } from '../../src/access/password.js';
import {
  startDockerEngine,
  startDockerHubSentinel,
  trustCa,
  type DockerEngine,
  type DockerHubSentinel,
  type TrustedCa,
} from '../support/docker-engine.js';
import { configDigest, pushLargeImage, type FixtureImage } from '../support/fixture-images.js';
import { assertInstalled, ToolError } from '../support/installed-tools.js';
import { startMirror, type TestMirror } from '../support/mirror-app.js';
import {
  assertCdnNeverServed,
  assertCdnServedLayersToMirror,
  assertLayersPassedMirror,
  assertLogsHoldNoSecrets,
  assertRegistrySawMirror,
  findAccessLine,
} from '../support/pull-assertions.js';
import { parseAccessLines, startPullThroughSetup, type AccessLine, type PullThroughSetup } from '../support/pull-through-setup.js';

const requiredPrograms = ['docker-registry', 'skopeo', 'openssl', 'dockerd', 'docker'];
const slow = { timeout: 300_000 };
const MiB = 1024 * 1024;
/** The large layer's payload: big enough that a mirror which buffered or stalled would show it. */
const largePayloadBytes = 200 * MiB;

test('docker-registry, skopeo, openssl, dockerd and docker are installed for the Docker Engine e2e tests', () => assertInstalled(...requiredPrograms));

/** What `docker image inspect` must show after pulling `image` (linux/amd64 of an index). */
async function assertPulled(engine: DockerEngine, reference: string, repoDigest: string, image: FixtureImage): Promise<void> {
  const stored = await engine.inspect(reference);
  assert.ok(stored.repoDigests.includes(repoDigest), `${reference}: repo digests ${stored.repoDigests.join(', ')}, expected ${repoDigest}`);
  const platform = Object.keys(image.children).length > 0 ? 'linux/amd64' : undefined;
  assert.equal(stored.id, configDigest(image, platform), `${reference}: the image id is not the config digest of the upstream image`);
  assert.equal(stored.architecture, 'amd64');
}

const layersOf = (image: FixtureImage, platform?: string) => (platform === undefined ? image.layers : (image.children[platform]?.layers ?? []));

const show = (lines: readonly AccessLine[]): string =>
  lines.map((l) => `${l.method} ${l.host ?? ''}${l.url} -> ${l.status} (${l.upstream ?? '-'}) cache=${l.cache ?? '-'}`).join('\n');

describe('the Docker Engine pulling through the mirror', () => {
  let s: PullThroughSetup;
  let sentinel: DockerHubSentinel;
  let engine: DockerEngine;
  let large: FixtureImage;
  const trusted: TrustedCa[] = [];
  const engines: DockerEngine[] = [];
  const mirrors: TestMirror[] = [];

  const newEngine = async (o: Parameters<typeof startDockerEngine>[0]): Promise<DockerEngine> => {
    const e = await startDockerEngine(o);
    engines.push(e);
    return e;
  };

  before(async () => {
    await assertInstalled(...requiredPrograms);
    s = await startPullThroughSetup();
    large = await pushLargeImage(s.reg, { repository: 'library/large', tag: '1', payloadBytes: largePayloadBytes });
    sentinel = await startDockerHubSentinel();
    // The mirror's certificate comes from the test CA; Docker trusts it only from certs.d.
    for (const name of ['root', 'hub', 'corp'] as const) trusted.push(await trustCa(s.at(name), s.reg.caFile));
    engine = await newEngine({ registryMirrors: [`https://${s.at('root')}`] });
  }, { timeout: 600_000 });

  after(async () => {
    for (const e of engines) await e.stop();
    for (const m of mirrors) await m.close();
    for (const t of trusted) await t.remove();
    await sentinel?.close();
    await s?.stop();
  });

  test('the daemon is Debian\'s dockerd 20.10 with the classic (graphdriver) image store', async () => {
    assert.match(await engine.serverVersion(), /^20\.10\./);
    const { stdout } = await engine.docker(['info', '--format', '{{.Driver}} {{json .RegistryConfig.Mirrors}}']);
    assert.equal(stdout.toString('utf8').trim(), `vfs ["https://${s.at('root')}/"]`);
  });

  test('docker pull alpine:3.20 (a short Docker Hub name) comes through the mirror, byte-exact', slow, async () => {
    const { alpine } = s.fixtures;
    const from = s.mark();
    await engine.docker(['pull', 'alpine:3.20']);
    await assertPulled(engine, 'alpine:3.20', `alpine@${alpine.digest}`, alpine);

    const lines = parseAccessLines(s.logsSince(from.mirror));
    // Docker's classic puller: a ping, the tag resolved by HEAD, the manifest by digest, then config and layers.
    findAccessLine(lines, { method: 'GET', url: '/v2/', host: s.at('root'), status: 200 });
    findAccessLine(lines, { method: 'HEAD', url: '/v2/library/alpine/manifests/3.20', host: s.at('root'), upstream: 'hub', status: 200, cache: 'MISS' });
    findAccessLine(lines, { method: 'GET', url: `/v2/library/alpine/manifests/${alpine.digest}`, upstream: 'hub', repository: 'library/alpine', status: 200 });
    findAccessLine(lines, { method: 'GET', url: `/v2/library/alpine/blobs/${configDigest(alpine)}`, upstream: 'hub', status: 200 });
    assertLayersPassedMirror(lines, alpine.layers, 'hub', 'library/alpine');
    assertCdnServedLayersToMirror(s.reg, alpine.layers);
    assertRegistrySawMirror(s.reg, from.registry, '/v2/library/alpine/manifests/3.20');
    assert.equal(sentinel.connections(), 0, 'the daemon fell back to Docker Hub');
  });

  for (const [label, key, tag] of [['an OCI index', 'multi', 'latest'], ['a Docker manifest list', 'multiDocker', 'v2s2']] as const) {
    test(`docker pull multi:${tag} (${label}) takes linux/amd64 through the mirror and records the index digest`, slow, async () => {
      const image = s.fixtures[key];
      const amd64 = image.children['linux/amd64'];
      assert.ok(amd64, 'the fixture has no linux/amd64 child');
      const from = s.mark();
      await engine.docker(['pull', `multi:${tag}`]);
      await assertPulled(engine, `multi:${tag}`, `multi@${image.digest}`, image);

      const lines = parseAccessLines(s.logsSince(from.mirror));
      findAccessLine(lines, { method: 'HEAD', url: `/v2/library/multi/manifests/${tag}`, upstream: 'hub', status: 200 });
      findAccessLine(lines, { method: 'GET', url: `/v2/library/multi/manifests/${image.digest}`, upstream: 'hub', status: 200 });
      findAccessLine(lines, { method: 'GET', url: `/v2/library/multi/manifests/${amd64.digest}`, upstream: 'hub', status: 200 });
      assertLayersPassedMirror(lines, amd64.layers, 'hub', 'library/multi');
      assertCdnServedLayersToMirror(s.reg, amd64.layers);
      assertCdnNeverServed(s.reg, layersOf(image, 'linux/arm64'));
      assert.equal(sentinel.connections(), 0, 'the daemon fell back to Docker Hub');
    });
  }

  test(`docker pull large:1 (one ${largePayloadBytes / MiB} MiB layer) comes through the mirror and unpacks`, slow, async () => {
    const from = s.mark();
    const [layer] = large.layers;
    assert.ok(layer && layer.size > largePayloadBytes, 'the large layer is smaller than its payload');
    await engine.docker(['pull', 'large:1'], { timeoutMs: 280_000 });
    await assertPulled(engine, 'large:1', `large@${large.digest}`, large);

    const lines = parseAccessLines(s.logsSince(from.mirror));
    findAccessLine(lines, { method: 'HEAD', url: '/v2/library/large/manifests/1', upstream: 'hub', status: 200 });
    assertLayersPassedMirror(lines, large.layers, 'hub', 'library/large');
    assertCdnServedLayersToMirror(s.reg, large.layers);
    assert.equal(sentinel.connections(), 0, 'the daemon fell back to Docker Hub');
  });

  test('docker pull <mirror-host>/<repository> reaches the host-mapped upstream (rewritten image names)', slow, async () => {
    const { app, alpine } = s.fixtures;
    const from = s.mark();
    // corp.mirror...: the corp registry's team/app, the mirror holding the upstream credentials.
    const appRef = `${s.at('corp')}/team/app:1.0`;
    await engine.docker(['pull', appRef]);
    await assertPulled(engine, appRef, `${s.at('corp')}/team/app@${app.digest}`, app);
    // hub.mirror...: Docker Hub by its own mirror name; a one-part name gets library/ upstream.
    const hubRef = `${s.at('hub')}/alpine:3.20`;
    await engine.docker(['pull', hubRef]);
    await assertPulled(engine, hubRef, `${s.at('hub')}/alpine@${alpine.digest}`, alpine);

    const lines = parseAccessLines(s.logsSince(from.mirror));
    findAccessLine(lines, { method: 'HEAD', url: '/v2/team/app/manifests/1.0', host: s.at('corp'), upstream: 'corp', repository: 'team/app', status: 200 });
    assertLayersPassedMirror(lines, app.layers, 'corp', 'team/app');
    assertCdnServedLayersToMirror(s.reg, app.layers);
    assertRegistrySawMirror(s.reg, from.registry, '/v2/team/app/manifests/1.0');
    findAccessLine(lines, { method: 'HEAD', url: '/v2/alpine/manifests/3.20', host: s.at('hub'), upstream: 'hub', repository: 'library/alpine', status: 200 });
    assert.equal(sentinel.connections(), 0, 'the daemon fell back to Docker Hub');
  });

  describe('a mirror with access.login: required', () => {
    let locked: TestMirror;
    let lockedHost: string;
    const user = { user: 'ci', password: 'ci-secret-password' };

    before(async () => {
      const cert = await s.reg.ca.issue('pullgate-login-mirror', ['localhost'], ['127.0.0.1']);
      locked = await startMirror({
        listen: { https: '127.0.0.1:0' },
        tls: { certificates: [{ cert: cert.certPath, key: cert.keyPath }] },
        access: { login: 'required', users: [{ username: user.user, passwordHash: await hashPassword(user.password) }] },
        upstreams: [{ name: 'hub', registry: 'docker.io', url: s.reg.url, ca: s.reg.caFile, default: true }],
      });
      mirrors.push(locked);
      lockedHost = `localhost:${new URL(locked.httpsUrl ?? '').port}`;
      trusted.push(await trustCa(lockedHost, s.reg.caFile));
    }, { timeout: 60_000 });

    const tokenLines = (from: number): { user?: string; ok: boolean; url: string }[] =>
      locked.logs.slice(from).map((l) => JSON.parse(l) as { msg?: string; user?: string; ok: boolean; url: string }).filter((l) => l.msg === 'token');

    test('without credentials Docker asks the mirror\'s token endpoint anonymously, is refused, and falls back to Docker Hub', slow, async () => {
      const e = await newEngine({ registryMirrors: [`https://${lockedHost}`] });
      const from = locked.logs.length;
      const hubBefore = sentinel.connections();
      const err = await e.docker(['pull', 'alpine:3.20']).then(() => undefined, (x: unknown) => x);
      assert.ok(err instanceof ToolError, 'the pull must fail');
      // What the user sees is Docker Hub's failure, not the mirror's refusal.
      assert.match(err.stderr, /registry-1\.docker\.io/);
      assert.ok(sentinel.connections() > hubBefore, 'the daemon did not fall back to Docker Hub');
      const next = e.logs().split('\n').filter((l) => l.includes('Attempting next endpoint for pull after error'));
      assert.ok(next.some((l) => /Head \\?"https:\/\/localhost:\d+\/v2\/library\/alpine\/manifests\/3\.20\\?": unauthorized/.test(l)), `the daemon did not leave the mirror for its refusal:\n${next.join('\n')}`);

      const lines = parseAccessLines(locked.logs.slice(from));
      findAccessLine(lines, { method: 'GET', url: '/v2/', status: 401 });
      assert.ok(lines.every((l) => l.status === 401), `the locked mirror served something:\n${show(lines)}`);
      const tokens = tokenLines(from);
      assert.ok(tokens.length > 0, 'the daemon never asked the mirror for a token');
      assert.ok(tokens.every((t) => t.user === undefined && !t.ok), 'a token request carried a user');
    });

    test('with Docker Hub credentials in the client\'s config Docker sends them to the mirror\'s token endpoint: a Pullgate user pulls', slow, async () => {
      const { alpine } = s.fixtures;
      const e = await newEngine({ registryMirrors: [`https://${lockedHost}`], dockerHubCredentials: user });
      const from = locked.logs.length;
      const hubBefore = sentinel.connections();
      await e.docker(['pull', 'alpine:3.20']);
      await assertPulled(e, 'alpine:3.20', `alpine@${alpine.digest}`, alpine);
      assert.equal(sentinel.connections(), hubBefore, 'the daemon fell back to Docker Hub');

      const tokens = tokenLines(from);
      assert.ok(tokens.some((t) => t.user === user.user && t.ok), 'no token was issued to the Docker Hub credentials');
      const lines = parseAccessLines(locked.logs.slice(from));
      findAccessLine(lines, { method: 'HEAD', url: '/v2/library/alpine/manifests/3.20', upstream: 'hub', status: 200 });
      assertLayersPassedMirror(lines, alpine.layers, 'hub', 'library/alpine');
      assertLogsHoldNoSecrets(locked.logs, [user]);
    });

    test('with Docker Hub credentials that are no Pullgate user the mirror refuses them and Docker falls back to Docker Hub', slow, async () => {
      const e = await newEngine({ registryMirrors: [`https://${lockedHost}`], dockerHubCredentials: { user: 'hub-user', password: 'hub-password' } });
      const from = locked.logs.length;
      const hubBefore = sentinel.connections();
      await assert.rejects(e.docker(['pull', 'alpine:3.20']), (err: unknown) => err instanceof ToolError && /registry-1\.docker\.io/.test(err.stderr));
      assert.ok(sentinel.connections() > hubBefore, 'the daemon did not fall back to Docker Hub');
      assert.ok(parseAccessLines(locked.logs.slice(from)).every((l) => l.status === 401), 'the locked mirror served something');
      assert.ok(tokenLines(from).every((t) => !t.ok), 'the mirror issued a token');
      assertLogsHoldNoSecrets(locked.logs, [{ user: 'hub-user', password: 'hub-password' }]);
    });
  });

  // Last: it stops the upstream for good.
  test('a second, fresh engine pulls every image again with the upstream stopped, from the mirror\'s cache', { timeout: 600_000 }, async () => {
    const { alpine, multi, multiDocker, app } = s.fixtures;
    await s.stopUpstream();
    const fresh = await newEngine({ registryMirrors: [`https://${s.at('root')}`] });
    const from = s.mirror.logs.length;
    const hubBefore = sentinel.connections();
    await fresh.docker(['pull', 'alpine:3.20']);
    await fresh.docker(['pull', 'multi:latest']);
    await fresh.docker(['pull', 'multi:v2s2']);
    await fresh.docker(['pull', 'large:1'], { timeoutMs: 280_000 });
    const appRef = `${s.at('corp')}/team/app:1.0`;
    await fresh.docker(['pull', appRef]);
    await assertPulled(fresh, 'alpine:3.20', `alpine@${alpine.digest}`, alpine);
    await assertPulled(fresh, 'multi:latest', `multi@${multi.digest}`, multi);
    await assertPulled(fresh, 'multi:v2s2', `multi@${multiDocker.digest}`, multiDocker);
    await assertPulled(fresh, 'large:1', `large@${large.digest}`, large);
    await assertPulled(fresh, appRef, `${s.at('corp')}/team/app@${app.digest}`, app);
    assert.equal(sentinel.connections(), hubBefore, 'the daemon fell back to Docker Hub');

    const lines = parseAccessLines(s.logsSince(from));
    const registryRequests = lines.filter((l) => l.url !== '/v2/');
    assert.ok(registryRequests.length > 0, 'the fresh engine sent nothing to the mirror');
    assert.ok(
      registryRequests.every((l) => l.status === 200 && l.cache === 'HIT' && l.upstreamStatus === undefined),
      `not every request was a cache hit without the upstream:\n${show(registryRequests)}`,
    );
    for (const [image, platform, upstream, repository] of [
      [alpine, undefined, 'hub', 'library/alpine'],
      [multi, 'linux/amd64', 'hub', 'library/multi'],
      [multiDocker, 'linux/amd64', 'hub', 'library/multi'],
      [large, undefined, 'hub', 'library/large'],
      [app, undefined, 'corp', 'team/app'],
    ] as const) {
      assertLayersPassedMirror(lines, layersOf(image, platform), upstream, repository);
    }
  });
});
