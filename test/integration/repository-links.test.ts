// A digest is linked to a repository (served there from the cache without asking the upstream again) only after
// that repository's upstream confirmed it: verified bytes or a HEAD answered 200 (docs/security.md, "Cache access
// across repositories, upstreams and replicas"). A 200 whose bytes then fail verification confirms nothing.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, beforeEach, describe, test } from 'node:test';
import { request } from 'undici';
import { parseDigest } from '../../src/registry/digest.js';
import { FakeUpstream } from '../support/fake/fake-upstream.js';
import { errorCode, get } from '../support/fake/mirror-over-fake.js';
import { startMirror, type TestMirror } from '../support/mirror-app.js';

/** The whole body, or a rejection when the transfer is aborted instead of ended. */
async function download(url: string): Promise<Buffer> {
  const res = await request(url);
  const chunks: Buffer[] = [];
  for await (const c of res.body) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

describe('repository links come from upstream confirmations only', () => {
  let up: FakeUpstream;
  let mirror: TestMirror;

  before(async () => {
    up = await new FakeUpstream({ auth: true }).start();
    mirror = await startMirror({ upstreams: [{ name: 'hub', registry: 'docker.io', url: up.url, default: true }] });
  });
  after(async () => {
    await mirror.close();
    await up.stop();
  });
  beforeEach(() => up.reset());

  test('a 200 whose bytes do not verify links nothing: the repository is confirmed again before the blob is served there', async () => {
    const layer = randomBytes(512 * 1024);
    const digest = up.addBlob(layer);
    const index = mirror.app.cache.index;
    up.faults.corruptBlob = true;
    await assert.rejects(download(`${mirror.url}/v2/team/a/blobs/${digest}`));
    for (let i = 0; i < 200 && mirror.app.services.fills.get(parseDigest(digest)); i++) await new Promise((r) => setTimeout(r, 10));
    assert.equal(index.isBlobLinked(parseDigest(digest), 'hub', 'team/a'), false, 'linked on a 200 with wrong bytes');

    // The blob is cached through another repository; team/a no longer holds it upstream.
    up.reset();
    assert.ok((await download(`${mirror.url}/v2/library/alpine/blobs/${digest}`)).equals(layer));
    for (let i = 0; i < 200 && !index.blob(parseDigest(digest)); i++) await new Promise((r) => setTimeout(r, 10));
    up.blobRepositories.set(digest, new Set(['library/alpine']));
    const r = await get(mirror.url, `/v2/team/a/blobs/${digest}`);
    assert.equal(r.status, 404);
    assert.equal(errorCode(r), 'BLOB_UNKNOWN');
    assert.equal(up.count((q) => q.method === 'HEAD' && q.path === `/v2/team/a/blobs/${digest}`), 1);
  });

  test('a fill whose bytes verify links its repository: served there again without asking the upstream', async () => {
    const layer = randomBytes(64 * 1024);
    const digest = up.addBlob(layer);
    assert.ok((await download(`${mirror.url}/v2/team/b/blobs/${digest}`)).equals(layer));
    for (let i = 0; i < 200 && !mirror.app.cache.index.blob(parseDigest(digest)); i++) await new Promise((r) => setTimeout(r, 10));
    assert.equal(mirror.app.cache.index.isBlobLinked(parseDigest(digest), 'hub', 'team/b'), true);
    up.reset();
    assert.ok((await download(`${mirror.url}/v2/team/b/blobs/${digest}`)).equals(layer));
    assert.equal(up.requests.length, 0);
  });
});
