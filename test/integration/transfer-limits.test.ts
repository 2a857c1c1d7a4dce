// access.limits.concurrentTransfers counts the fills a client starts, not only the responses it is reading: a fill
// goes on when its client leaves (it is shared), so a client that starts a fill and hangs up keeps the transfer
// counted until the fill is over. Otherwise one client could start any number of upstream fetches by asking and
// hanging up, whatever its limit.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, beforeEach, describe, test } from 'node:test';
import { request } from 'undici';
import { FakeUpstream, sha256 } from '../support/fake/fake-upstream.js';
import { errorCode, get } from '../support/fake/mirror-over-fake.js';
import { startMirror, type TestMirror } from '../support/mirror-app.js';

describe('fills count toward the client that started them', () => {
  let up: FakeUpstream;
  let mirror: TestMirror;
  const path = (bytes: Buffer) => `/v2/library/data/blobs/${sha256(bytes)}`;
  const fillsRunning = () => mirror.app.services.fills.size;
  const waitFor = async (what: () => boolean, ms = 10_000) => {
    for (const end = Date.now() + ms; !what(); ) {
      if (Date.now() > end) throw new Error('condition not met');
      await new Promise((r) => setTimeout(r, 10));
    }
  };

  before(async () => {
    up = await new FakeUpstream().start();
    mirror = await startMirror({
      access: { limits: { concurrentTransfers: 1 }, trustedProxies: ['127.0.0.1'] },
      upstreams: [{ name: 'hub', registry: 'docker.io', url: up.url, default: true }],
    });
  });
  after(async () => {
    await mirror?.close();
    await up?.stop();
  });
  beforeEach(() => {
    up.reset();
    up.faults.blobChunkDelayMs = 0;
  });

  test('a client that starts a fill and hangs up cannot start another until that fill is over', async () => {
    const first = randomBytes(1024 * 1024);
    const second = randomBytes(64 * 1024);
    up.addBlob(first);
    up.addBlob(second);
    up.faults.blobChunkDelayMs = 60; // 16 chunks of 64 KiB: the fill runs about a second
    const res = await request(mirror.url + path(first));
    assert.equal(res.statusCode, 200);
    res.body.destroy(); // the client leaves; the fill goes on
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(fillsRunning(), 1, 'the fill outlives its client');
    const refused = await get(mirror.url, path(second));
    assert.equal(refused.status, 429);
    assert.equal(errorCode(refused), 'TOOMANYREQUESTS');
    assert.equal(up.count((r) => r.path === path(second)), 0, 'no upstream fetch was started for it');
    await waitFor(() => fillsRunning() === 0);
    const later = await get(mirror.url, path(second));
    assert.equal(later.status, 200, 'once the fill is over the client may transfer again');
    assert.ok(later.body.equals(second));
  });

  test('a client that reads its whole blob counts once, and may go on at once', async () => {
    const blobs = [randomBytes(256 * 1024), randomBytes(256 * 1024), randomBytes(256 * 1024)];
    for (const b of blobs) up.addBlob(b);
    for (const b of blobs) {
      const r = await get(mirror.url, path(b));
      assert.equal(r.status, 200);
      assert.ok(r.body.equals(b));
    }
  });

  test('the fill counts for the client that started it only: another client may follow it meanwhile', async () => {
    const blob = randomBytes(512 * 1024);
    const other = randomBytes(64 * 1024);
    up.addBlob(blob);
    up.addBlob(other);
    up.faults.blobChunkDelayMs = 30;
    const a = { 'x-forwarded-for': '203.0.113.1' };
    const b = { 'x-forwarded-for': '203.0.113.2' };
    const res = await request(mirror.url + path(blob), { headers: a });
    res.body.destroy();
    await new Promise((r) => setTimeout(r, 50));
    const follower = await get(mirror.url, path(blob), { headers: b });
    assert.equal(follower.status, 200, 'another client follows the running fill');
    assert.ok(follower.body.equals(blob));
    await waitFor(() => fillsRunning() === 0);
    assert.equal((await get(mirror.url, path(other), { headers: a })).status, 200);
  });

  test('while its fill runs, the client that started it is refused another transfer, and told to retry', async () => {
    const blob = randomBytes(512 * 1024);
    const other = randomBytes(64 * 1024);
    up.addBlob(blob);
    up.addBlob(other);
    up.faults.blobChunkDelayMs = 30;
    const a = { 'x-forwarded-for': '203.0.113.3' };
    const res = await request(mirror.url + path(blob), { headers: a });
    res.body.destroy();
    await new Promise((r) => setTimeout(r, 50));
    const refused = await get(mirror.url, path(other), { headers: a });
    assert.equal(refused.status, 429);
    assert.equal(refused.headers['retry-after'], '1');
    await waitFor(() => fillsRunning() === 0);
  });
});
