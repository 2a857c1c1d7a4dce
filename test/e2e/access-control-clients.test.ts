// Access control with real clients against a real upstream (Debian's docker-registry with token auth): skopeo and
// containerd's ctr log in with Pullgate's own users (through the mirror's /auth/token) or are refused, a denied
// repository is refused by tag and by digest, and a denied address is refused.
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { hashPassword } from '../../src/access/password.js';
import { ctrEnvWithoutSystemCa, startContainerd, writeHostsToml, type Containerd } from '../support/containerd.js';
import { pushFixtures, type Fixtures } from '../support/fixture-images.js';
import { assertInstalled, ToolError } from '../support/installed-tools.js';
import { startMirror, type TestMirror } from '../support/mirror-app.js';
import { parseAccessLines, sha256 } from '../support/pull-through-setup.js';
import { startRealRegistry, type RealRegistry } from '../support/real-registry.js';
import { skopeo } from '../support/skopeo.js';

const requiredPrograms = ['docker-registry', 'skopeo', 'openssl', 'containerd', 'ctr'];
const slow = { timeout: 120_000 };

test('docker-registry, skopeo, containerd and openssl are installed for the access-control e2e tests', () => assertInstalled(...requiredPrograms));

async function failure(work: Promise<unknown>): Promise<ToolError> {
  const err = await work.then(
    () => undefined,
    (e: unknown) => e,
  );
  assert.ok(err instanceof ToolError, 'the client must fail');
  return err;
}

describe('access control with real clients', () => {
  let reg: RealRegistry;
  let fixtures: Fixtures;
  let work: string;
  let mirror: TestMirror;
  let denying: TestMirror;
  let containerd: Containerd;
  let certDir: string;

  before(async () => {
    await assertInstalled(...requiredPrograms);
    work = await mkdtemp(join(tmpdir(), 'pullgate-access-e2e-'));
    reg = await startRealRegistry();
    fixtures = await pushFixtures(reg);
    certDir = reg.ca.certDir;
    const cert = await reg.ca.issue('pullgate-access-mirror', ['localhost'], ['127.0.0.1']);
    const base = {
      listen: { https: '127.0.0.1:0' },
      tls: { certificates: [{ cert: cert.certPath, key: cert.keyPath }] },
    };
    const hub = { name: 'hub', registry: 'docker.io', url: reg.url, ca: reg.caFile, default: true, policy: { deny: ['team/*'] } };
    mirror = await startMirror({
      ...base,
      access: { login: 'required', users: [{ username: 'ci', passwordHash: await hashPassword('ci-secret-password') }] },
      upstreams: [hub],
    });
    denying = await startMirror({ ...base, access: { deny: ['127.0.0.0/8', '::1'] }, upstreams: [hub] });
    containerd = await startContainerd('pullgate-access');
  }, { timeout: 180_000 });

  after(async () => {
    await containerd?.stop();
    await mirror?.close();
    await denying?.close();
    await reg?.stop();
    if (work) await rm(work, { recursive: true, force: true });
  });

  const host = (m: TestMirror): string => new URL(m.httpsUrl ?? '').host;

  test('skopeo with the right user pulls through the mirror; without credentials or with a wrong password it is refused', slow, async () => {
    const ref = `docker://${host(mirror)}/alpine:3.20`;
    const dest = join(work, 'alpine');
    await skopeo(['copy', '--quiet', '--src-creds', 'ci:ci-secret-password', '--src-cert-dir', certDir, ref, `dir:${dest}`]);
    assert.equal(sha256(await readFile(join(dest, 'manifest.json'))), fixtures.alpine.digest);
    const lines = parseAccessLines(mirror.logs);
    assert.ok(lines.some((l) => l.url === '/v2/alpine/manifests/3.20' && l.status === 200), 'pulled through the mirror');
    assert.ok(mirror.logs.some((l) => l.includes('"url":"/auth/token"') && l.includes('"user":"ci"')), 'logged in with a token from the mirror');

    const anonymous = await failure(skopeo(['inspect', '--raw', '--no-creds', '--cert-dir', certDir, ref]));
    assert.match(anonymous.stderr, /unauthorized|authentication required/i);
    const wrong = await failure(skopeo(['inspect', '--raw', '--creds', 'ci:not-the-password', '--cert-dir', certDir, ref]));
    assert.match(wrong.stderr, /unauthorized|authentication required|invalid username\/password/i);
  });

  test('a denied repository is refused to skopeo by tag and by digest, even with the image cached under another name', slow, async () => {
    const from = reg.logs().length;
    const creds = ['--creds', 'ci:ci-secret-password', '--cert-dir', certDir];
    const byTag = await failure(skopeo(['inspect', '--raw', ...creds, `docker://${host(mirror)}/team/app:1.0`]));
    assert.match(byTag.stderr, /denied/i);
    const byDigest = await failure(skopeo(['inspect', '--raw', ...creds, `docker://${host(mirror)}/team/app@${fixtures.app.digest}`]));
    assert.match(byDigest.stderr, /denied/i);
    // alpine's manifest is cached now; asked for under the denied repository it is still refused.
    const cachedElsewhere = await failure(skopeo(['inspect', '--raw', ...creds, `docker://${host(mirror)}/team/app@${fixtures.alpine.digest}`]));
    assert.match(cachedElsewhere.stderr, /denied/i);
    assert.ok(!/team\/app\/manifests/.test(reg.logs().slice(from)), 'the upstream never saw the denied repository');
  });

  test('ctr with --user pulls through the mirror with hosts.toml; without a user or with a wrong password it is refused', slow, async () => {
    const hostsDir = join(work, 'certs.d');
    await writeHostsToml(hostsDir, 'docker.io', { server: 'https://registry-1.docker.io', mirror: `https://${host(mirror)}`, ca: reg.caFile });
    const env = ctrEnvWithoutSystemCa();
    const refused = await failure(containerd.ctr(['images', 'pull', '--hosts-dir', hostsDir, 'docker.io/library/alpine:3.20'], { env }));
    assert.match(refused.stderr, /401|unauthorized|not found/i);
    const wrong = await failure(
      containerd.ctr(['images', 'pull', '--user', 'ci:not-the-password', '--hosts-dir', hostsDir, 'docker.io/library/alpine:3.20'], { env }),
    );
    assert.match(wrong.stderr, /401|unauthorized|not found/i);
    await containerd.ctr(['images', 'pull', '--user', 'ci:ci-secret-password', '--hosts-dir', hostsDir, 'docker.io/library/alpine:3.20'], { env });
    const { stdout } = await containerd.ctr(['images', 'ls', '-q']);
    assert.match(stdout.toString(), /docker\.io\/library\/alpine:3\.20/);
  });

  test('a denied address is refused with DENIED to skopeo and ctr, and the upstream is never asked', slow, async () => {
    const before = reg.logs().length;
    const s = await failure(skopeo(['inspect', '--raw', '--no-creds', '--cert-dir', certDir, `docker://${host(denying)}/alpine:3.20`]));
    // skopeo stops at the /v2/ ping and reports its status.
    assert.match(s.stderr, /denied|403 \(Forbidden\)/i);
    const hostsDir = join(work, 'certs-denied.d');
    await writeHostsToml(hostsDir, 'docker.io', { server: 'https://registry-1.docker.io', mirror: `https://${host(denying)}`, ca: reg.caFile });
    const env = ctrEnvWithoutSystemCa();
    const c = await failure(containerd.ctr(['images', 'pull', '--hosts-dir', hostsDir, 'docker.io/library/busybox:1'], { env }));
    assert.match(c.stderr, /403|denied|forbidden|not found/i);
    assert.doesNotMatch(reg.logs().slice(before), /\/v2\/library\/(alpine|busybox)\//, 'the upstream never saw these pulls');
    assert.ok(parseAccessLines(denying.logs).every((l) => l.status === 403), 'every request was refused');
  });
});
