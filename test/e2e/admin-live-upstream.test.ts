// Live apply with a real client: an upstream added through the admin API (a real docker-registry with token auth,
// its CA pasted as PEM, credentials sealed in the database) is pulled through by skopeo at once, without a restart;
// disabling it refuses the next pull.
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { AdminClient } from '../support/admin-client.js';
import { pushFixtures, type Fixtures } from '../support/fixture-images.js';
import { assertInstalled, ToolError } from '../support/installed-tools.js';
import { startMirror, type TestMirror } from '../support/mirror-app.js';
import { parseAccessLines, sha256 } from '../support/pull-through-setup.js';
import { startRealRegistry, type RealRegistry } from '../support/real-registry.js';
import { skopeo } from '../support/skopeo.js';

const requiredPrograms = ['docker-registry', 'skopeo', 'openssl'];
const password = 'admin-password-for-e2e';

test('docker-registry, skopeo and openssl are installed for the admin live-apply e2e test', () => assertInstalled(...requiredPrograms));

describe('an upstream added through the admin API', () => {
  let reg: RealRegistry;
  let fixtures: Fixtures;
  let mirror: TestMirror;
  let admin: AdminClient;
  let work: string;

  before(async () => {
    await assertInstalled(...requiredPrograms);
    work = await mkdtemp(join(tmpdir(), 'pullgate-admin-e2e-'));
    reg = await startRealRegistry();
    fixtures = await pushFixtures(reg);
    // No upstream for the registry in the file: it exists only once the admin adds it.
    mirror = await startMirror({ listen: { admin: '127.0.0.1:0' }, upstreams: [] }, { adminPassword: password });
    admin = new AdminClient(mirror.adminUrl ?? '');
    assert.equal((await admin.login(password)).status, 200);
  }, { timeout: 180_000 });

  after(async () => {
    await mirror?.close();
    await reg?.stop();
    if (work) await rm(work, { recursive: true, force: true });
  });

  const mirrorHost = (): string => new URL(mirror.url).host;
  const copy = (dest: string) =>
    skopeo(['copy', '--quiet', '--src-no-creds', '--src-tls-verify=false', `docker://${mirrorHost()}/corp.upstream.test/team/app:1.0`, `dir:${dest}`]);

  test('skopeo pulls through it right after it is added, and is refused right after it is disabled', { timeout: 120_000 }, async () => {
    const refused = await copy(join(work, 'before')).then(
      () => undefined,
      (err: unknown) => err,
    );
    assert.ok(refused instanceof ToolError, 'not routed before it is added');

    const created = await admin.call('POST', '/api/upstreams', {
      name: 'corp',
      registry: 'corp.upstream.test',
      url: reg.url,
      caPem: await readFile(reg.caFile, 'utf8'),
      auth: { mode: 'mirror', username: 'reader', password: 'reader-secret' },
    });
    assert.equal(created.status, 201, created.text);
    assert.ok(!created.text.includes('reader-secret'));

    const dest = join(work, 'after');
    await copy(dest);
    const manifest = await readFile(join(dest, 'manifest.json'));
    assert.equal(sha256(manifest), fixtures.app.digest);
    const lines = parseAccessLines(mirror.logs);
    assert.ok(
      lines.some((l) => l.upstream === 'corp' && l.repository === 'team/app' && l.url === '/v2/corp.upstream.test/team/app/manifests/1.0' && l.status === 200),
      'the pull went through the added upstream',
    );

    const images = await admin.call<{ images: Array<{ digest: string; tags: string[] }> }>('GET', '/api/cache/images?upstream=corp&repository=team/app');
    assert.deepEqual(images.body.images.map((i) => [i.digest, i.tags]), [[fixtures.app.digest, ['1.0']]]);

    assert.equal((await admin.call('PATCH', '/api/upstreams/corp', { enabled: false })).status, 200);
    const again = await copy(join(work, 'disabled')).then(
      () => undefined,
      (err: unknown) => err,
    );
    assert.ok(again instanceof ToolError, 'a disabled upstream is not served, cached or not');
    assert.match((again as ToolError).message, /not known|NAME_UNKNOWN|not mirrored|404/i);
  });
});
