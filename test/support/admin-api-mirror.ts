// The mirror the admin API tests run against (test/integration/admin-api*.test.ts): an admin listener with a
// password and a web directory, the config-file upstream `hub` (a fake registry with library/alpine:3.20) and a
// second fake registry, `other`, that needs credentials and that the tests add as an upstream through the API.
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before } from 'node:test';
import { AdminClient } from './admin-client.js';
import { FakeUpstream } from './fake/fake-upstream.js';
import { get } from './fake/mirror-over-fake.js';
import { startMirror, type TestMirror } from './mirror-app.js';

export const password = 'admin-password-for-tests';
export const upstreamSecret = 'upstream-secret-never-shown';

export interface AdminApiMirror {
  hub: FakeUpstream;
  other: FakeUpstream;
  mirror: TestMirror;
  admin: AdminClient;
  webDir: string;
}

/** Starts the two fake registries and the mirror, and logs the admin client in. */
export async function startAdminApiMirror(): Promise<AdminApiMirror> {
  const hub = await new FakeUpstream().start();
  const other = await new FakeUpstream({ auth: true, users: { robot: upstreamSecret } }).start();
  hub.addImage('library/alpine', '3.20', [Buffer.alloc(3000, 1), Buffer.alloc(5000, 2)]);
  other.addImage('private/app', '1.0', [Buffer.alloc(4000, 3)]);
  const webDir = await mkdtemp(join(tmpdir(), 'pullgate-web-'));
  await writeFile(join(webDir, 'index.html'), '<!doctype html><title>Pullgate</title>');
  const mirror = await startMirror(
    {
      listen: { admin: '127.0.0.1:0' },
      cache: { pins: ['hub/library/pinned-by-config'] },
      upstreams: [{ name: 'hub', registry: 'docker.io', url: hub.url, default: true }],
    },
    { adminPassword: password, webDir },
  );
  const admin = new AdminClient(mirror.adminUrl ?? '');
  assert.equal((await admin.login(password)).status, 200);
  return { hub, other, mirror, admin, webDir };
}

export async function stopAdminApiMirror(m: Partial<AdminApiMirror>): Promise<void> {
  await m.mirror?.close();
  await m.hub?.stop();
  await m.other?.stop();
  if (m.webDir) await rm(m.webDir, { recursive: true, force: true });
}

/**
 * In a suite: starts the mirror before its tests (`use` receives it, for the suite's variables; then `prepare`
 * runs, if given) and stops it after them.
 */
export function adminApiMirrorForSuite(use: (m: AdminApiMirror) => void, prepare?: (m: AdminApiMirror) => Promise<unknown>): void {
  let fixture: AdminApiMirror | undefined;
  before(async () => {
    fixture = await startAdminApiMirror();
    use(fixture);
    await prepare?.(fixture);
  });
  after(() => stopAdminApiMirror(fixture ?? {}));
}

/** The fake registry `other` as an upstream added through the admin API, with its credentials. */
export const otherUpstream = (other: FakeUpstream) => ({
  name: 'other',
  registry: 'other.example.test',
  url: other.url,
  hosts: ['other.mirror.test'],
  auth: { mode: 'mirror', username: 'robot', password: upstreamSecret },
});

/**
 * The cache as the upstream tests leave it: private/app:1.0 pulled through `other` (added, then deleted; its cached
 * content stays). Its config blob has the same bytes as every fake image's, so a purge of another image keeps that
 * blob and a prefetch finds it cached.
 */
export async function cacheImageOfAnotherUpstream({ admin, mirror, other }: AdminApiMirror): Promise<void> {
  assert.equal((await admin.call('POST', '/api/upstreams', otherUpstream(other))).status, 201);
  assert.equal((await get(mirror.url, '/v2/private/app/manifests/1.0', { headers: { host: 'other.mirror.test' } })).status, 200);
  assert.equal((await admin.call('DELETE', '/api/upstreams/other')).status, 204);
}

/** Pulls library/alpine:3.20 (manifest and every blob) from `hub` and returns the bytes the client received. */
export async function pullAlpine(mirrorUrl: string): Promise<number> {
  const m = await get(mirrorUrl, '/v2/alpine/manifests/3.20');
  assert.equal(m.status, 200);
  let bytes = m.body.length;
  const doc = JSON.parse(m.body.toString()) as { config: { digest: string }; layers: Array<{ digest: string }> };
  for (const d of [doc.config.digest, ...doc.layers.map((l) => l.digest)]) {
    const blob = await get(mirrorUrl, `/v2/alpine/blobs/${d}`);
    assert.equal(blob.status, 200);
    bytes += blob.body.length;
  }
  return bytes;
}
