// The setup page's generated client files (src/admin/setup-snippets.ts), written as they are and used by the real
// clients against the e2e mirror (test/support/pull-through-setup.ts): containerd's hosts.toml per registry and
// `_default` (ctr --hosts-dir), and registries.conf (podman, skopeo --registries-conf). Every pull must show up in
// the mirror's access log by the host the file names, with the layers the CDN served to the mirror: the upstream
// having served the image alone would not prove the file sent the client through the mirror.
import assert from 'node:assert/strict';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { after, before, beforeEach, describe, test } from 'node:test';
import type { Snippet } from '../../src/admin/api-schemas.js';
import { setupSnippets, type SetupUpstream } from '../../src/admin/setup-snippets.js';
import { contentDigests, ctrEnvWithoutSystemCa, listImages, startContainerd, type Containerd } from '../support/containerd.js';
import { assertInstalled, ToolError } from '../support/installed-tools.js';
import { createPodman, type Podman } from '../support/podman.js';
import {
  assertCdnServedLayersToMirror,
  assertLayerFiles,
  assertLayersPassedMirror,
  assertRegistrySawMirror,
  findAccessLine,
} from '../support/pull-assertions.js';
import { parseAccessLines, startPullThroughSetup, type PullThroughSetup } from '../support/pull-through-setup.js';
import { skopeo } from '../support/skopeo.js';

const requiredPrograms = ['docker-registry', 'skopeo', 'openssl', 'containerd', 'ctr', 'podman'];
const slow = { timeout: 180_000 };

test('docker-registry, skopeo, openssl, containerd, ctr and podman are installed for the setup snippet e2e tests', () =>
  assertInstalled(...requiredPrograms));

function snippet(snippets: Snippet[], id: string): Snippet {
  const found = snippets.find((s) => s.id === id);
  assert.ok(found, `no snippet ${id}; ids: ${snippets.map((s) => s.id).join(', ')}`);
  return found;
}

/** Writes containerd snippets where their `file` says, with `dir` in place of /etc/containerd/certs.d. */
async function writeHostsFiles(dir: string, snippets: Snippet[]): Promise<void> {
  for (const s of snippets) {
    const rel = s.file.replace(/^\/etc\/containerd\/certs\.d\//, '');
    assert.notEqual(rel, s.file, `${s.id} is not under /etc/containerd/certs.d: ${s.file}`);
    await mkdir(dirname(join(dir, rel)), { recursive: true });
    await writeFile(join(dir, rel), s.content);
  }
}

describe('the generated client files pull through the mirror with the real clients', () => {
  let s: PullThroughSetup;
  let containerd: Containerd;
  let podman: Podman;
  /** The live mirror's upstreams, as the admin API hands them to setupSnippets. */
  let upstreams: SetupUpstream[];
  let snippets: Snippet[];
  /** ctr without SSL_CERT_FILE: only the hosts.toml `ca` makes a TLS peer trusted. */
  const ctrEnv = ctrEnvWithoutSystemCa;

  before(async () => {
    await assertInstalled(...requiredPrograms);
    s = await startPullThroughSetup();
    containerd = await startContainerd();
    podman = await createPodman(s.reg.ca.certDir);
    upstreams = s.mirror.app.config.upstreams.map((u) => ({ name: u.name, registry: u.registry, hosts: u.hosts, default: u.default, enabled: true }));
    snippets = setupSnippets({ mirror: new URL(`https://${s.at('root')}`), upstreams, caFile: s.reg.caFile });
  }, { timeout: 180_000 });

  after(async () => {
    await podman?.stop();
    await containerd?.stop();
    await s?.stop();
  });

  // Each test pulls through a cold cache, into a containerd without the images (--sync: their content goes too),
  // so that what it asserts about traffic does not depend on test order.
  beforeEach(async () => {
    await s?.coldCache();
    if (containerd === undefined) return;
    const names = (await listImages(containerd)).map((i) => i.name);
    if (names.length > 0) await containerd.ctr(['images', 'rm', '--sync', ...names]);
  });

  test('ctr pulls the corp registry\'s team/app:1.0 and docker.io/library/alpine:3.20 with the generated per-registry hosts.toml, by their mapped hosts', slow, async () => {
    const { app, alpine } = s.fixtures;
    const hostsDir = join(s.work, 'certs.d');
    await writeHostsFiles(hostsDir, snippets.filter((x) => x.id.startsWith('containerd-hosts-') && x.id !== 'containerd-hosts-_default'));
    const corpFile = await readFile(join(hostsDir, s.reg.host, 'hosts.toml'), 'utf8');
    assert.ok(corpFile.includes(`[host."https://${s.at('corp')}"]`), corpFile);

    const from = s.mark();
    const ref = `${s.reg.host}/team/app:1.0`;
    await containerd.ctr(['images', 'pull', '--hosts-dir', hostsDir, ref], { env: ctrEnv() });
    const hub = 'docker.io/library/alpine:3.20';
    await containerd.ctr(['images', 'pull', '--hosts-dir', hostsDir, hub], { env: ctrEnv() });

    const images = await listImages(containerd);
    assert.equal(images.find((i) => i.name === ref)?.digest, app.digest);
    assert.equal(images.find((i) => i.name === hub)?.digest, alpine.digest);
    const content = await contentDigests(containerd);
    for (const layer of [...app.layers, ...alpine.layers]) assert.ok(content.has(layer.digest), `layer ${layer.digest} is not in containerd's content store`);

    const lines = parseAccessLines(s.logsSince(from.mirror));
    const corpNs = `?ns=${s.reg.host.replace(':', '%3A')}`;
    findAccessLine(lines, { url: `/v2/team/app/manifests/1.0${corpNs}`, host: s.at('corp'), upstream: 'corp', repository: 'team/app', status: 200 });
    findAccessLine(lines, { url: '/v2/library/alpine/manifests/3.20?ns=docker.io', host: s.at('hub'), upstream: 'hub', repository: 'library/alpine', status: 200 });
    assertLayersPassedMirror(lines.filter((l) => l.host === s.at('corp')), app.layers, 'corp', 'team/app');
    assertLayersPassedMirror(lines.filter((l) => l.host === s.at('hub')), alpine.layers, 'hub', 'library/alpine');
    assertCdnServedLayersToMirror(s.reg, [...app.layers, ...alpine.layers]);
    assertRegistrySawMirror(s.reg, from.registry, '/v2/team/app/manifests/1.0');
  });

  test('ctr pulls team/app:1.0 with only the generated _default hosts.toml, through the mirror root routed by ns; an unconfigured registry is refused', slow, async () => {
    const { app } = s.fixtures;
    const hostsDir = join(s.work, 'certs.d-default');
    await writeHostsFiles(hostsDir, [snippet(snippets, 'containerd-hosts-_default')]);

    let from = s.mark();
    const ref = `${s.reg.host}/team/app:1.0`;
    await containerd.ctr(['images', 'pull', '--hosts-dir', hostsDir, ref], { env: ctrEnv() });
    assert.equal((await listImages(containerd)).find((i) => i.name === ref)?.digest, app.digest);
    let lines = parseAccessLines(s.logsSince(from.mirror));
    const ns = `?ns=${s.reg.host.replace(':', '%3A')}`;
    findAccessLine(lines, { url: `/v2/team/app/manifests/1.0${ns}`, host: s.at('root'), upstream: 'corp', repository: 'team/app', status: 200 });
    assertLayersPassedMirror(lines, app.layers, 'corp', 'team/app');
    assert.ok(lines.every((l) => l.host === s.at('root')), 'a request reached the mirror by another host name');
    assertCdnServedLayersToMirror(s.reg, app.layers);

    // The mirror is not an open proxy: a registry it does not mirror is refused, never dialled.
    from = s.mark();
    const refused = containerd.ctr(['images', 'pull', '--hosts-dir', hostsDir, 'unmirrored.pullgate.test/team/app:1.0'], { env: ctrEnv(), timeoutMs: 60_000 });
    await assert.rejects(refused, (err: unknown) => err instanceof ToolError);
    lines = parseAccessLines(s.logsSince(from.mirror));
    findAccessLine(lines, { url: '/v2/team/app/manifests/1.0?ns=unmirrored.pullgate.test', host: s.at('root'), status: 404 });
    assert.ok(lines.every((l) => l.upstream === undefined && l.status !== 200), 'the mirror served a registry it does not mirror');
  });

  test('podman pulls team/app:1.0 and docker.io/library/alpine:3.20 with the generated registries.conf, by the mapped hosts', slow, async () => {
    const { app, alpine } = s.fixtures;
    await writeFile(podman.registriesConf, snippet(snippets, 'registries-conf').content);

    const from = s.mark();
    const ref = `${s.reg.host}/team/app:1.0`;
    await podman.pull(ref);
    await podman.pull('docker.io/library/alpine:3.20');
    assert.equal((await podman.inspect(ref)).digest, app.digest);
    assert.equal((await podman.inspect('docker.io/library/alpine:3.20')).digest, alpine.digest);

    const lines = parseAccessLines(s.logsSince(from.mirror));
    findAccessLine(lines, { method: 'GET', url: '/v2/team/app/manifests/1.0', host: s.at('corp'), upstream: 'corp', repository: 'team/app', status: 200 });
    findAccessLine(lines, { method: 'GET', url: '/v2/library/alpine/manifests/3.20', host: s.at('hub'), upstream: 'hub', repository: 'library/alpine', status: 200 });
    assertLayersPassedMirror(lines.filter((l) => l.host === s.at('corp')), app.layers, 'corp', 'team/app');
    assertLayersPassedMirror(lines.filter((l) => l.host === s.at('hub')), alpine.layers, 'hub', 'library/alpine');
    assertCdnServedLayersToMirror(s.reg, [...app.layers, ...alpine.layers]);
  });

  test('skopeo --registries-conf copies docker.io/library/alpine:3.20 through the mirror root\'s docker.io path prefix when no host is mapped', slow, async () => {
    const { alpine } = s.fixtures;
    const unmapped = setupSnippets({
      mirror: new URL(`https://${s.at('root')}`),
      upstreams: upstreams.map((u) => ({ ...u, hosts: [] })),
      caFile: s.reg.caFile,
    });
    const conf = snippet(unmapped, 'registries-conf').content;
    assert.ok(conf.includes(`location = "${s.at('root')}/docker.io"`), conf);
    const confPath = join(s.work, 'registries-prefix.conf');
    await writeFile(confPath, conf);

    const from = s.mark();
    const dest = join(s.work, 'alpine-dir');
    const authFile = join(s.work, 'no-auth.json');
    await writeFile(authFile, '{"auths":{}}');
    // No machine credentials, and only --src-cert-dir for trust.
    const env: NodeJS.ProcessEnv = { ...process.env, REGISTRY_AUTH_FILE: authFile };
    delete env['SSL_CERT_FILE'];
    await skopeo(['--registries-conf', confPath, 'copy', '--quiet', '--src-no-creds', '--src-cert-dir', s.reg.ca.certDir,
      'docker://docker.io/library/alpine:3.20', `dir:${dest}`], { env });
    await assertLayerFiles(dest, alpine.layers);

    const lines = parseAccessLines(s.logsSince(from.mirror));
    findAccessLine(lines, { method: 'GET', url: '/v2/docker.io/library/alpine/manifests/3.20', host: s.at('root'), upstream: 'hub', repository: 'library/alpine', status: 200 });
    assertLayersPassedMirror(lines, alpine.layers, 'hub', 'library/alpine');
    assertCdnServedLayersToMirror(s.reg, alpine.layers);
    assertRegistrySawMirror(s.reg, from.registry, '/v2/library/alpine/manifests/3.20');
  });
});
