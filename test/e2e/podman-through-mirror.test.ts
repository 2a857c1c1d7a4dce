// podman (root, vfs, private storage) pulling through Pullgate by registries.conf mirrors: the corp registry
// through its mapped mirror host, and docker.io through the mirror root with a `docker.io` path prefix.
// podman verifies every blob's digest as it stores it; the image lands in its store with the upstream digest.
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { after, before, beforeEach, describe, test } from 'node:test';
import { assertInstalled } from '../support/installed-tools.js';
import {
  assertCdnServedLayersToMirror,
  assertLayersPassedMirror,
  assertRegistrySawMirror,
  findAccessLine,
} from '../support/pull-assertions.js';
import { parseAccessLines, startPullThroughSetup, type PullThroughSetup } from '../support/pull-through-setup.js';
import { createPodman, type Podman } from '../support/podman.js';

const requiredPrograms = ['docker-registry', 'skopeo', 'openssl', 'podman'];
const slow = { timeout: 180_000 };

test('docker-registry, skopeo, openssl and podman are installed for the podman e2e tests', () => assertInstalled(...requiredPrograms));

describe('podman pulling through registries.conf mirrors', () => {
  let s: PullThroughSetup;
  let podman: Podman;


  before(async () => {
    await assertInstalled(...requiredPrograms);
    s = await startPullThroughSetup();
    podman = await createPodman(s.reg.ca.certDir);
    // The mirrors come first; CDN user agents and the mirror's access lines prove the primary was not used.
    await writeFile(podman.registriesConf, [
      'unqualified-search-registries = []',
      '',
      '[[registry]]',
      `prefix = "${s.reg.host}"`,
      `location = "${s.reg.host}"`,
      '[[registry.mirror]]',
      `location = "${s.at('corp')}"`,
      '',
      '[[registry]]',
      'prefix = "docker.io"',
      'location = "docker.io"',
      '[[registry.mirror]]',
      `location = "${s.at('root')}/docker.io"`,
      '',
    ].join('\n'));
  }, { timeout: 180_000 });

  after(async () => {
    await podman?.stop();
    await s?.stop();
  });

  // Each test pulls through a cold cache: what it asserts about upstream traffic must not depend on test order.
  beforeEach(() => s?.coldCache());

  test('podman pulls team/app:1.0 of the corp registry through the corp mirror host into its store with the upstream digest', slow, async () => {
    const { app } = s.fixtures;
    const from = s.mark();
    const ref = `${s.reg.host}/team/app:1.0`;
    await podman.pull(ref);

    const stored = await podman.inspect(ref);
    assert.equal(stored.digest, app.digest);
    assert.ok(stored.repoDigests.includes(`${s.reg.host}/team/app@${app.digest}`), `repo digests: ${stored.repoDigests.join(', ')}`);

    const lines = parseAccessLines(s.logsSince(from.mirror));
    findAccessLine(lines, { method: 'GET', url: '/v2/team/app/manifests/1.0', host: s.at('corp'), upstream: 'corp', repository: 'team/app', status: 200 });
    assertLayersPassedMirror(lines, app.layers, 'corp', 'team/app');
    assertCdnServedLayersToMirror(s.reg, app.layers);
    assertRegistrySawMirror(s.reg, from.registry, '/v2/team/app/manifests/1.0');
  });

  test('podman pulls docker.io/library/alpine:3.20 through the mirror root with the docker.io path prefix', slow, async () => {
    const { alpine } = s.fixtures;
    const from = s.mark();
    await podman.pull('docker.io/library/alpine:3.20');

    const stored = await podman.inspect('docker.io/library/alpine:3.20');
    assert.equal(stored.digest, alpine.digest);
    assert.ok(stored.repoDigests.includes(`docker.io/library/alpine@${alpine.digest}`), `repo digests: ${stored.repoDigests.join(', ')}`);

    const lines = parseAccessLines(s.logsSince(from.mirror));
    const want = { method: 'GET', url: '/v2/docker.io/library/alpine/manifests/3.20', host: s.at('root'), upstream: 'hub', repository: 'library/alpine', status: 200 };
    findAccessLine(lines, want);
    assertLayersPassedMirror(lines, alpine.layers, 'hub', 'library/alpine');
    assertCdnServedLayersToMirror(s.reg, alpine.layers);
    assertRegistrySawMirror(s.reg, from.registry, '/v2/library/alpine/manifests/3.20');
  });
});
