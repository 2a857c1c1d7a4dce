// Real skopeo pulling through Pullgate's HTTPS listener by mirror hostname, by the Docker-Hub-style root, by a
// registries.conf mirror with a path prefix, and copying multi-arch indexes byte for byte. The upstream is a real
// docker-registry with token auth whose blobs come from a CDN host (test/support/pull-through-setup.ts).
import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, beforeEach, describe, test } from 'node:test';
import { Agent, request } from 'undici';
import { assertInstalled, ToolError } from '../support/installed-tools.js';
import {
  assertCdnServedLayersToMirror,
  assertLayerFiles,
  assertLayersPassedMirror,
  assertRegistrySawMirror,
  findAccessLine,
} from '../support/pull-assertions.js';
import { parseAccessLines, sha256, startPullThroughSetup, type PullThroughSetup } from '../support/pull-through-setup.js';
import { skopeo } from '../support/skopeo.js';

const requiredPrograms = ['docker-registry', 'skopeo', 'openssl'];
const slow = { timeout: 120_000 };

// Counted as a failure of its own, so a machine without the packages shows `fail 1`, not only cancellations.
test('docker-registry, skopeo and openssl are installed for the skopeo e2e tests', () => assertInstalled(...requiredPrograms));

describe('skopeo pulling through the mirror', () => {
  let s: PullThroughSetup;
  let certDir: string;


  before(async () => {
    await assertInstalled(...requiredPrograms);
    s = await startPullThroughSetup();
    certDir = s.reg.ca.certDir;
  }, { timeout: 180_000 });

  after(async () => {
    await s?.stop();
  });

  // Each test pulls through a cold cache: what it asserts about upstream traffic must not depend on test order.
  beforeEach(() => s?.coldCache());

  test('skopeo inspect --raw and copy of team/app:1.0 by the corp mirror hostname get the exact manifest and verified layers', slow, async () => {
    const { app } = s.fixtures;
    const ref = `docker://${s.at('corp')}/team/app:1.0`;
    const from = s.mark();
    const { stdout } = await skopeo(['inspect', '--raw', '--no-creds', '--cert-dir', certDir, ref]);
    assert.equal(sha256(stdout), app.digest);
    assert.deepEqual(stdout, app.raw);

    const dest = join(s.work, 'corp-app-oci');
    await skopeo(['copy', '--quiet', '--src-no-creds', '--src-cert-dir', certDir, ref, `oci:${dest}:1.0`]);
    const index = JSON.parse(await readFile(join(dest, 'index.json'), 'utf8')) as { manifests: { digest: string }[] };
    assert.equal(index.manifests[0]?.digest, app.digest);
    await assertLayerFiles(join(dest, 'blobs', 'sha256'), app.layers);

    const lines = parseAccessLines(s.logsSince(from.mirror));
    const want = { method: 'GET', url: '/v2/team/app/manifests/1.0', host: s.at('corp'), upstream: 'corp', repository: 'team/app', status: 200 };
    findAccessLine(lines, want);
    assertLayersPassedMirror(lines, app.layers, 'corp', 'team/app');
    assertCdnServedLayersToMirror(s.reg, app.layers);
    assertRegistrySawMirror(s.reg, from.registry, '/v2/team/app/manifests/1.0');
  });

  test('skopeo with a short name on the Hub-style mirror host gets library/alpine:3.20', slow, async () => {
    const { alpine } = s.fixtures;
    const from = s.mark();
    const dest = join(s.work, 'hub-alpine-dir');
    await skopeo(['copy', '--quiet', '--src-no-creds', '--src-cert-dir', certDir, `docker://${s.at('hub')}/alpine:3.20`, `dir:${dest}`]);
    const manifest = await readFile(join(dest, 'manifest.json'));
    assert.equal(sha256(manifest), alpine.digest);
    await assertLayerFiles(dest, alpine.layers);

    const lines = parseAccessLines(s.logsSince(from.mirror));
    findAccessLine(lines, { method: 'GET', url: '/v2/alpine/manifests/3.20', host: s.at('hub'), upstream: 'hub', repository: 'library/alpine', status: 200 });
    assertLayersPassedMirror(lines, alpine.layers, 'hub', 'library/alpine');
    assertCdnServedLayersToMirror(s.reg, alpine.layers);
    assertRegistrySawMirror(s.reg, from.registry, '/v2/library/alpine/manifests/3.20');
  });

  test('skopeo through a registries.conf mirror with the docker.io path prefix pulls docker.io/team/app:1.0 via the prefix', slow, async () => {
    const { app } = s.fixtures;
    // The primary (registry-1.docker.io) is unreachable here, so only the mirror can have served this pull.
    const conf = join(s.work, 'registries-docker-io.conf');
    await writeFile(conf, [
      '[[registry]]',
      'prefix = "docker.io"',
      'location = "docker.io"',
      '[[registry.mirror]]',
      `location = "${s.at('root')}/docker.io"`,
      '',
    ].join('\n'));
    const from = s.mark();
    const dest = join(s.work, 'prefix-app-oci');
    await skopeo(['--registries-conf', conf, 'copy', '--quiet', '--src-no-creds', '--src-cert-dir', certDir, 'docker://docker.io/team/app:1.0', `oci:${dest}:1.0`]);
    const index = JSON.parse(await readFile(join(dest, 'index.json'), 'utf8')) as { manifests: { digest: string }[] };
    assert.equal(index.manifests[0]?.digest, app.digest);
    await assertLayerFiles(join(dest, 'blobs', 'sha256'), app.layers);

    const lines = parseAccessLines(s.logsSince(from.mirror));
    const want = { method: 'GET', url: '/v2/docker.io/team/app/manifests/1.0', host: s.at('root'), upstream: 'hub', repository: 'team/app', status: 200 };
    findAccessLine(lines, want);
    assertLayersPassedMirror(lines, app.layers, 'hub', 'team/app');
    assertCdnServedLayersToMirror(s.reg, app.layers);
    assertRegistrySawMirror(s.reg, from.registry, '/v2/team/app/manifests/1.0');
  });

  // The brief's `location = "mirror:PORT/<registry host:port>"` cannot work with containers/image: a colon is not
  // allowed in a repository path component, so skopeo refuses the rewritten reference before any request. This
  // test pins that fact and checks that the prefix route to corp itself works for a client that can send it.
  test('a host:port path prefix routes to corp, although containers/image refuses such a mirror location', slow, async () => {
    const { app } = s.fixtures;
    const conf = join(s.work, 'registries-host-port.conf');
    await writeFile(conf, [
      '[[registry]]',
      `prefix = "${s.reg.host}"`,
      `location = "${s.reg.host}"`,
      '[[registry.mirror]]',
      `location = "${s.at('root')}/${s.reg.host}"`,
      '',
    ].join('\n'));
    const from = s.mark();
    const refused = skopeo(['--registries-conf', conf, 'inspect', '--raw', '--no-creds', '--cert-dir', certDir, `docker://${s.reg.host}/team/app:1.0`]);
    await assert.rejects(refused, (err: unknown) => err instanceof ToolError && /invalid reference format/.test(err.stderr));
    assert.deepEqual(parseAccessLines(s.logsSince(from.mirror)), []);

    const agent = new Agent({ connect: { ca: s.reg.ca.caCertPem, servername: 'mirror.pullgate.test' } });
    try {
      const res = await request(`https://127.0.0.1:${s.port}/v2/${s.reg.host}/team/app/manifests/1.0`, {
        dispatcher: agent,
        headers: { host: s.at('root'), accept: app.mediaType },
      });
      const body = Buffer.from(await res.body.arrayBuffer());
      assert.equal(res.statusCode, 200, body.toString('utf8'));
      assert.equal(res.headers['docker-content-digest'], app.digest);
      assert.equal(sha256(body), app.digest);
    } finally {
      await agent.close();
    }
    const lines = parseAccessLines(s.logsSince(from.mirror));
    findAccessLine(lines, { method: 'GET', url: `/v2/${s.reg.host}/team/app/manifests/1.0`, upstream: 'corp', repository: 'team/app', status: 200 });
    assertRegistrySawMirror(s.reg, from.registry, '/v2/team/app/manifests/1.0');
  });

  test('skopeo copy --all keeps the OCI index library/multi:latest and the Docker manifest list library/multi:v2s2 byte for byte', slow, async () => {
    const { multi, multiDocker } = s.fixtures;
    // One through the mirror root (default upstream), one by the Hub-style host with a short name.
    const cases = [
      { image: multi, ref: `docker://${s.at('root')}/library/multi:latest`, host: s.at('root'), url: '/v2/library/multi/manifests/latest' },
      { image: multiDocker, ref: `docker://${s.at('hub')}/multi:v2s2`, host: s.at('hub'), url: '/v2/multi/manifests/v2s2' },
    ];
    for (const c of cases) {
      const from = s.mark();
      const dest = join(s.work, `multi-${c.image.tag}-dir`);
      await skopeo(['copy', '--quiet', '--all', '--preserve-digests', '--src-no-creds', '--src-cert-dir', certDir, c.ref, `dir:${dest}`]);
      const top = await readFile(join(dest, 'manifest.json'));
      assert.equal(sha256(top), c.image.digest, `index digest of ${c.ref}`);
      assert.deepEqual(top, c.image.raw);
      for (const child of Object.values(c.image.children)) {
        assert.deepEqual(await readFile(join(dest, `${child.digest.slice(7)}.manifest.json`)), child.raw);
      }
      await assertLayerFiles(dest, c.image.layers);

      const lines = parseAccessLines(s.logsSince(from.mirror));
      findAccessLine(lines, { method: 'GET', url: c.url, host: c.host, upstream: 'hub', repository: 'library/multi', status: 200 });
      assertLayersPassedMirror(lines, c.image.layers, 'hub', 'library/multi');
      assertCdnServedLayersToMirror(s.reg, c.image.layers);
    }
  });
});
