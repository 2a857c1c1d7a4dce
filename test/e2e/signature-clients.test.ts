// Real clients pulling through a mirror that enforces a signature policy (docs/signatures.md): a signed image
// pulls with skopeo, podman and containerd's ctr with no change on their side; an unsigned one is refused, and the
// refusal's message (naming the policy and what was missing) reaches the user on the client's own error output.
// Under audit both pull and the mirror's log says which was unsigned.
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { ctrEnvWithoutSystemCa, startContainerd, writeHostsToml, type Containerd } from '../support/containerd.js';
import { startDockerEngine, startDockerHubSentinel, trustCa, type DockerEngine, type DockerHubSentinel, type TrustedCa } from '../support/docker-engine.js';
import { assertInstalled, ToolError } from '../support/installed-tools.js';
import { createPodman, type Podman } from '../support/podman.js';
import { startPullThroughSetup, type PullThroughSetup } from '../support/pull-through-setup.js';
import { signaturesConfig, signFixtures } from '../support/signed-fixtures.js';
import { mockSigstore, testKey } from '../support/sigstore-fixtures.js';
import { skopeo } from '../support/skopeo.js';

const requiredPrograms = ['docker-registry', 'skopeo', 'openssl', 'podman', 'containerd', 'ctr', 'dockerd', 'docker'];
const slow = { timeout: 180_000 };
const refusal = /signature policy of upstream hub .*no signature found/;

test('docker-registry, skopeo, openssl, podman, containerd, ctr and the Docker Engine are installed for the signature e2e tests', () => assertInstalled(...requiredPrograms));

async function failure(run: Promise<unknown>): Promise<ToolError> {
  const err = await run.then(() => undefined, (e: unknown) => e);
  assert.ok(err instanceof ToolError, 'the pull should have failed');
  return err;
}

describe('real clients through a mirror that enforces signatures', () => {
  let s: PullThroughSetup;
  let podman: Podman;
  let containerd: Containerd;
  let hostsDir: string;
  let keys: string;
  let engine: DockerEngine;
  let sentinel: DockerHubSentinel;
  let trustedCa: TrustedCa;

  before(async () => {
    await assertInstalled(...requiredPrograms);
    const trusted = testKey('p256');
    const sigstore = await mockSigstore();
    keys = await mkdtemp(join(tmpdir(), 'pullgate-sigkeys-'));
    const keyFile = join(keys, 'trusted.pub');
    const rootFile = join(keys, 'trusted_root.json');
    await writeFile(keyFile, trusted.publicPem);
    await writeFile(rootFile, JSON.stringify(sigstore.trustedRoot));
    const config = (mode: 'enforce' | 'audit') => signaturesConfig({ keyFile, trustedPem: trusted.publicPem, rootFile, issuer: sigstore.issuer, mode });
    // hub (the mirror root, docker.io) enforces; corp (its own mirror host) only audits.
    s = await startPullThroughSetup({ hub: { signatures: config('enforce') }, corp: { signatures: config('audit') } });
    await signFixtures(s.reg, s.fixtures, { trusted, stranger: testKey('p256'), sigstore });
    podman = await createPodman(s.reg.ca.certDir);
    containerd = await startContainerd();
    hostsDir = join(s.work, 'certs.d');
    await writeHostsToml(hostsDir, 'docker.io', { server: 'https://registry-1.docker.io', mirror: `https://${s.at('root')}`, ca: s.reg.caFile });
    // Docker Hub's names lead to a local sentinel: a fallback past the mirror is counted, never sent out.
    sentinel = await startDockerHubSentinel();
    trustedCa = await trustCa(s.at('root'), s.reg.caFile);
    engine = await startDockerEngine({ registryMirrors: [`https://${s.at('root')}`] });
  }, { timeout: 600_000 });

  after(async () => {
    await engine?.stop();
    await trustedCa?.remove();
    await sentinel?.close();
    await podman?.stop();
    await containerd?.stop();
    await s?.stop();
    if (keys) await rm(keys, { recursive: true, force: true });
  });

  test('skopeo copies the signed team/app:1.0 and is refused library/alpine with the policy message', slow, async () => {
    const certs = ['--src-cert-dir', s.reg.ca.certDir, '--src-no-creds'];
    await skopeo(['copy', '--quiet', ...certs, `docker://${s.at('root')}/team/app:1.0`, `dir:${join(s.work, 'skopeo-app')}`]);
    const err = await failure(skopeo(['copy', '--quiet', ...certs, `docker://${s.at('root')}/library/alpine:3.20`, `dir:${join(s.work, 'skopeo-alpine')}`]));
    assert.match(err.stderr, refusal);
  });

  test('podman pulls the keyless-signed index library/multi:latest (every platform it picks) and is refused library/alpine', slow, async () => {
    await podman.pull(`${s.at('root')}/library/multi:latest`);
    const err = await failure(podman.pull(`${s.at('root')}/library/alpine:3.20`));
    assert.match(err.stderr, refusal);
  });

  test('ctr pulls docker.io/team/app:1.0 through hosts.toml and is refused docker.io/library/alpine:3.20', slow, async () => {
    await containerd.ctr(['images', 'pull', '--hosts-dir', hostsDir, 'docker.io/team/app:1.0'], { env: ctrEnvWithoutSystemCa() });
    const err = await failure(containerd.ctr(['images', 'pull', '--hosts-dir', hostsDir, 'docker.io/library/alpine:3.20'], { env: ctrEnvWithoutSystemCa() }));
    // ctr resolves with a HEAD, whose 403 has no body: the status is what it can show.
    assert.match(err.stderr, /403 Forbidden/);
  });

  test('the Docker Engine (registry-mirrors) pulls the signed team/app:1.0; library/alpine is refused at the mirror', slow, async () => {
    // ctr, refused above, went on to registry-1.docker.io (the sentinel): count from here.
    const fallbacks = sentinel.connections();
    await engine.docker(['pull', 'team/app:1.0']);
    const stored = await engine.inspect('team/app:1.0');
    assert.ok(stored.repoDigests.includes(`team/app@${s.fixtures.app.digest}`), stored.repoDigests.join(', '));
    assert.equal(sentinel.connections(), fallbacks, 'the signed image came through the mirror');
    const from = s.mirror.logs.length;
    await failure(engine.docker(['pull', 'alpine:3.20']));
    // Docker tries the next endpoint after a mirror's refusal: Docker Hub, here the sentinel. The mirror's log says why.
    const refused = s.mirror.logs.slice(from).map((l) => JSON.parse(l) as { msg?: string; upstream?: string; status?: number; error?: { message?: string } })
      .filter((l) => l.msg === 'request' && l.upstream === 'hub' && l.status === 403);
    assert.ok(refused.some((l) => refusal.test(l.error?.message ?? '')), 'the mirror refused alpine under the policy');
    assert.ok(sentinel.connections() > fallbacks, 'Docker fell back to Docker Hub after the refusal');
  });

  test('under audit skopeo pulls the unsigned image from corp, and the access log says it was unsigned', slow, async () => {
    await skopeo(['copy', '--quiet', '--src-cert-dir', s.reg.ca.certDir, `docker://${s.at('corp')}/library/alpine:3.20`, `dir:${join(s.work, 'audit-alpine')}`]);
    const line = s.mirror.logs.map((l) => JSON.parse(l) as Record<string, unknown>).find((l) => l['upstream'] === 'corp' && l['reference'] === '3.20' && l['msg'] === 'request');
    assert.match(String(line?.['signature']), /^audit_fail: no signature found/);
  });
});
