// The default (disk) storage shares nothing: no bucket, a catalog that does nothing, no cluster in the admin, and
// the pull path as before (one upstream fetch, then hits). The S3 side is test/integration/shared-catalog.test.ts.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { localOnly } from '../../src/catalog/shared-catalog.js';
import { fullManifestAccept } from '../../src/registry/media-types.js';
import { AdminClient } from '../support/admin-client.js';
import { FakeUpstream } from '../support/fake/fake-upstream.js';
import { get } from '../support/fake/mirror-over-fake.js';
import { startMirror, type TestMirror } from '../support/mirror-app.js';

const password = 'disk-admin-password';

describe('a mirror on disk storage', () => {
  let up: FakeUpstream;
  let mirror: TestMirror;
  let admin: AdminClient;

  before(async () => {
    up = await new FakeUpstream().start();
    up.addImage('library/alpine', '3.20', [Buffer.alloc(2000, 7)]);
    mirror = await startMirror({ listen: { admin: '127.0.0.1:0' }, upstreams: [{ name: 'hub', registry: 'docker.io', url: up.url, default: true }] }, { adminPassword: password });
    admin = new AdminClient(mirror.adminUrl ?? '');
    assert.equal((await admin.login(password)).status, 200);
  });

  after(async () => {
    await mirror?.close();
    await up?.stop();
  });

  test('has no bucket and the no-op catalog', () => {
    assert.equal(mirror.app.cache.bucket, undefined);
    assert.equal(mirror.app.cache.catalog, localOnly);
    assert.equal(mirror.app.services.catalog, localOnly);
  });

  test('answers the cluster view with shared: false and no replica', async () => {
    const res = await admin.call('GET', '/api/cluster');
    assert.equal(res.status, 200);
    assert.deepEqual(res.body, {
      shared: false,
      self: null,
      heartbeatMs: null,
      replicas: [],
      totals: { bytesServed: 0, bytesFetched: 0, hits: 0, misses: 0, fillsInFlight: 0 },
    });
  });

  test('pulls a tag once from the upstream and then serves it from the cache', async () => {
    const accept = { accept: fullManifestAccept };
    const first = await get(mirror.url, '/v2/library/alpine/manifests/3.20', { headers: accept });
    const second = await get(mirror.url, '/v2/library/alpine/manifests/3.20', { headers: accept });
    assert.deepEqual([first.status, second.status], [200, 200]);
    assert.deepEqual(first.body, second.body);
    assert.equal(up.count((r) => r.path.includes('/manifests/')), 1);
  });
});
