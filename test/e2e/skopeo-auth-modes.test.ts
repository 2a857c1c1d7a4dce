// The two auth modes with real skopeo: in mirror mode Pullgate holds the upstream credentials, so a private
// image needs none from the client (and the anonymous Hub entry is refused); in passthrough mode the client's
// credentials travel through the mirror's token endpoint to the real token server, and never into the logs.
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, beforeEach, describe, test } from 'node:test';
import { assertInstalled, ToolError } from '../support/installed-tools.js';
import {
  assertCdnNeverServed,
  assertCdnServedLayersToMirror,
  assertLayerFiles,
  assertLayersPassedMirror,
  assertLogsHoldNoSecrets,
  assertRegistrySawMirror,
  findAccessLine,
} from '../support/pull-assertions.js';
import { parseAccessLines, sha256, startPullThroughSetup, type PullThroughSetup } from '../support/pull-through-setup.js';
import { skopeo } from '../support/skopeo.js';

const requiredPrograms = ['docker-registry', 'skopeo', 'openssl'];
const slow = { timeout: 120_000 };
const refusal = /unauthorized|denied|authentication required/i;

test('docker-registry, skopeo and openssl are installed for the auth-mode e2e tests', () => assertInstalled(...requiredPrograms));

describe('auth modes through the mirror with skopeo', () => {
  let s: PullThroughSetup;
  let certDir: string;

  const ociDigest = async (dir: string): Promise<string | undefined> =>
    (JSON.parse(await readFile(join(dir, 'index.json'), 'utf8')) as { manifests: { digest: string }[] }).manifests[0]?.digest;

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

  test('mirror mode: private/secret:1.0 needs no client credentials on the corp host, and the anonymous hub host is refused', slow, async () => {
    const { secret } = s.fixtures;
    let from = s.mark();
    const dest = join(s.work, 'corp-secret-oci');
    await skopeo(['copy', '--quiet', '--src-no-creds', '--src-cert-dir', certDir, `docker://${s.at('corp')}/private/secret:1.0`, `oci:${dest}:1.0`]);
    assert.equal(await ociDigest(dest), secret.digest);
    await assertLayerFiles(join(dest, 'blobs', 'sha256'), secret.layers);
    let lines = parseAccessLines(s.logsSince(from.mirror));
    findAccessLine(lines, { method: 'GET', url: '/v2/private/secret/manifests/1.0', upstream: 'corp', repository: 'private/secret', status: 200 });
    assertLayersPassedMirror(lines, secret.layers, 'corp', 'private/secret');
    assertCdnServedLayersToMirror(s.reg, secret.layers);
    assertRegistrySawMirror(s.reg, from.registry, '/v2/private/secret/manifests/1.0');
    // The token for it was fetched by the mirror, as reader.
    assert.ok(s.reg.tokenServer.requests.some((r) => r.user === 'reader' && r.status === 200), 'the mirror never fetched a token as reader');

    from = s.mark();
    const refused = skopeo(['inspect', '--raw', '--no-creds', '--cert-dir', certDir, `docker://${s.at('hub')}/private/secret:1.0`]);
    await assert.rejects(refused, (err: unknown) => {
      assert.ok(err instanceof ToolError, String(err));
      assert.match(err.stderr, refusal);
      return true;
    });
    lines = parseAccessLines(s.logsSince(from.mirror));
    findAccessLine(lines, { url: '/v2/private/secret/manifests/1.0', upstream: 'hub', repository: 'private/secret', status: 403 });
    assert.ok(lines.every((l) => l.status !== 200 || l.url === '/v2/'), 'the hub entry served something of private/secret');
    assertCdnNeverServed(s.reg, secret.layers);
    assert.ok(s.reg.tokenServer.requests.every((r) => !r.hasAuthorization), 'the anonymous hub entry sent credentials to the token server');
  });

  test('passthrough mode: skopeo with reader credentials pulls private/secret:1.0 through the mirror token endpoint, without them it is refused', slow, async () => {
    const { secret } = s.fixtures;
    const ref = `docker://${s.at('pass')}/private/secret:1.0`;
    let from = s.mark();
    const { stdout } = await skopeo(['inspect', '--raw', '--creds', 'reader:reader-secret', '--cert-dir', certDir, ref]);
    assert.equal(sha256(stdout), secret.digest);
    const dest = join(s.work, 'pass-secret-oci');
    await skopeo(['copy', '--quiet', '--src-creds', 'reader:reader-secret', '--src-cert-dir', certDir, ref, `oci:${dest}:1.0`]);
    assert.equal(await ociDigest(dest), secret.digest);
    await assertLayerFiles(join(dest, 'blobs', 'sha256'), secret.layers);

    const relayed = s.reg.tokenServer.requests.filter((r) => r.hasAuthorization && r.user === 'reader' && r.status === 200);
    assert.ok(relayed.length > 0, 'the token server never saw reader\'s credentials');
    for (const r of relayed) assert.match(String(r.headers['user-agent']), /^pullgate/, 'a token request with credentials did not come from the mirror');
    const tokenLines = s.logsSince(from.mirror).map((l) => JSON.parse(l) as Record<string, unknown>).filter((l) => l.msg === 'token');
    assert.ok(tokenLines.some((l) => l.upstream === 'pass' && l.status === 200), 'the mirror logged no successful token relay');
    const lines = parseAccessLines(s.logsSince(from.mirror));
    // containers/image learns the challenge only from /v2/, so the pass host must challenge there.
    findAccessLine(lines, { method: 'GET', url: '/v2/', host: s.at('pass'), status: 401 });
    findAccessLine(lines, { method: 'GET', url: '/v2/private/secret/manifests/1.0', upstream: 'pass', repository: 'private/secret', status: 200 });
    assertLayersPassedMirror(lines, secret.layers, 'pass', 'private/secret');
    assertCdnServedLayersToMirror(s.reg, secret.layers);
    assertRegistrySawMirror(s.reg, from.registry, '/v2/private/secret/manifests/1.0');

    from = s.mark();
    const refused = skopeo(['inspect', '--raw', '--no-creds', '--cert-dir', certDir, ref]);
    await assert.rejects(refused, (err: unknown) => {
      assert.ok(err instanceof ToolError, String(err));
      assert.match(err.stderr, refusal);
      return true;
    });
    assert.ok(s.reg.tokenServer.requests.every((r) => !r.hasAuthorization), 'credentials reached the token server on an anonymous pull');
    const after401 = parseAccessLines(s.logsSince(from.mirror));
    findAccessLine(after401, { url: '/v2/private/secret/manifests/1.0', upstream: 'pass', status: 401 });
    assertCdnNeverServed(s.reg, secret.layers);
  });

  test('the mirror log never holds a password, Basic credentials or a bearer token', () => {
    assertLogsHoldNoSecrets(s.mirror.logs, [{ user: 'reader', password: 'reader-secret' }]);
  });
});
