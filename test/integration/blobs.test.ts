import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, beforeEach, describe, test } from 'node:test';
import { errorCode, get, mirrorOverFake, type Setup } from '../support/fake/mirror-over-fake.js';
import { protocols, TransferError, type RegistryClient } from '../support/registry-client.js';

for (const protocol of protocols) describe(`blobs through the mirror (${protocol})`, () => {
  let s: Setup;
  let c: RegistryClient;
  /** Reads a whole body; rejects when the transfer is aborted rather than ended cleanly. */
  const download = (path: string, headers: Record<string, string> = {}) => c.fetch(path, { headers });
  // Each test pulls a blob of its own: what an earlier test pulled is cached.
  let blob: Buffer;
  let digest: string;
  let path: string;

  before(async () => {
    s = await mirrorOverFake({ auth: true });
    c = await s.client(protocol);
  });
  after(() => s.close());
  beforeEach(() => {
    s.up.reset();
    blob = randomBytes(3 * 1024 * 1024 + 17);
    digest = s.up.addBlob(blob);
    path = `/v2/library/alpine/blobs/${digest}`;
  });

  test('a GET streams the exact bytes with length, digest and octet-stream type and no encoding', async () => {
    const r = await download(path, { 'accept-encoding': 'gzip, zstd' });
    assert.equal(r.status, 200);
    assert.ok(r.body.equals(blob));
    assert.equal(r.headers['content-length'], String(blob.length));
    assert.equal(r.headers['docker-content-digest'], digest);
    assert.equal(r.headers['content-type'], 'application/octet-stream');
    assert.equal(r.headers['content-encoding'], undefined);
    assert.equal(s.up.requests.find((q) => q.path === path && q.headers.authorization)?.headers['accept-encoding'], 'identity');
  });

  test('a HEAD has the blob\'s length, not 0, and no body', async () => {
    const r = await get(c, path, { method: 'HEAD' });
    assert.equal(r.status, 200);
    assert.equal(r.headers['content-length'], String(blob.length));
    assert.equal(r.body.length, 0);
  });

  test('an open-ended Range answers 206 with the tail and its Content-Range', async () => {
    const r = await download(path, { range: 'bytes=1000-' });
    assert.equal(r.status, 206);
    assert.equal(r.headers['content-range'], `bytes 1000-${blob.length - 1}/${blob.length}`);
    assert.ok(r.body.equals(blob.subarray(1000)));
  });

  test('bytes=0- answers 206 with the whole blob, as containerd\'s first parallel chunk expects', async () => {
    const r = await download(path, { range: 'bytes=0-' });
    assert.equal(r.status, 206);
    assert.equal(r.body.length, blob.length);
  });

  test('an unsatisfiable Range answers 416 with Content-Range bytes */size', async () => {
    const r = await get(c, path, { headers: { range: `bytes=${blob.length + 10}-` } });
    assert.equal(r.status, 416);
    assert.equal(r.headers['content-range'], `bytes */${blob.length}`);
    assert.equal(errorCode(r), 'RANGE_INVALID');
  });

  test('a malformed Range is refused with RANGE_INVALID before going upstream', async () => {
    for (const range of ['bytes=abc', 'bytes=0-1,5-6', 'bytes=9-2']) {
      const r = await get(c, path, { headers: { range } });
      assert.equal(r.status, 416, range);
      assert.equal(errorCode(r), 'RANGE_INVALID');
    }
    assert.equal(s.up.count((q) => q.path === path), 0);
  });

  test('a Range ending far past the blob is clipped to it: 206 with the whole blob (RFC 9110 14.1.2)', async () => {
    const r = await download(path, { range: 'bytes=0-9999999999999999' });
    assert.equal(r.status, 206);
    assert.equal(r.headers['content-range'], `bytes 0-${blob.length - 1}/${blob.length}`);
    assert.ok(r.body.equals(blob));
  });

  test('a Range in a unit other than bytes is ignored: 200 with the whole blob (RFC 9110 14.2)', async () => {
    const r = await download(path, { range: 'items=0-1' });
    assert.equal(r.status, 200);
    assert.equal(r.headers['content-range'], undefined);
    assert.ok(r.body.equals(blob));
  });

  for (const mode of ['absolute', 'relative'] as const) {
    test(`a ${mode} redirect is followed by the mirror and the redirect host sees no Authorization`, async () => {
      s.up.faults.redirectBlobs = mode;
      const r = await download(path);
      assert.equal(r.status, 200);
      assert.ok(r.body.equals(blob));
      assert.equal(r.headers.location, undefined);
      const hops = s.up.requests.filter((q) => q.path.includes('/cdn/'));
      assert.equal(hops.length, 1);
      if (mode === 'absolute') assert.equal(hops[0]!.headers.authorization, undefined);
    });
  }

  test('an upstream body truncated at the same byte on every resume makes the client\'s transfer fail, never end cleanly', async () => {
    s.up.faults.truncateBlobAt = 1024 * 1024;
    await assert.rejects(download(path));
  });

  test('a corrupted upstream body makes the client\'s transfer fail before the last byte', async () => {
    s.up.faults.corruptBlob = true;
    const failed = await download(path).then(
      () => undefined,
      (err: unknown) => err,
    );
    assert.ok(failed instanceof TransferError, String(failed));
    assert.ok(failed.received < blob.length, `received ${failed.received} of ${blob.length}`);
  });

  test('after a failed transfer the next request succeeds', async () => {
    s.up.faults.corruptBlob = true;
    await assert.rejects(download(path));
    s.up.faults.corruptBlob = false;
    const r = await download(path);
    assert.ok(r.body.equals(blob));
  });

  test('an upstream 429 reaches the client as TOOMANYREQUESTS with Retry-After', async () => {
    s.up.faults.rateLimited = '42';
    const r = await get(c, path);
    assert.equal(r.status, 429);
    assert.equal(r.headers['retry-after'], '42');
    assert.equal(errorCode(r), 'TOOMANYREQUESTS');
  });

  test('an upstream 5xx is UNAVAILABLE', async () => {
    s.up.faults.serverError = 502;
    const r = await get(c, path);
    assert.equal(r.status, 503);
    assert.equal(errorCode(r), 'UNAVAILABLE');
  });

  test('an unknown blob is BLOB_UNKNOWN', async () => {
    const r = await get(c, `/v2/library/alpine/blobs/sha256:${'0'.repeat(64)}`);
    assert.equal(r.status, 404);
    assert.equal(errorCode(r), 'BLOB_UNKNOWN');
  });

  test('rate-limit headers are recorded per upstream and logged when they change', async () => {
    s.up.addImage('library/alpine', '3.20', [Buffer.alloc(10, 1)]);
    s.up.faults.rateLimitHeaders = { limit: '100;w=21600', remaining: '76;w=21600' };
    await get(c, '/v2/library/alpine/manifests/3.20');
    assert.deepEqual(
      { limit: s.mirror.app.router().named('hub')?.rateLimit?.limit, remaining: s.mirror.app.router().named('hub')?.rateLimit?.remaining },
      { limit: '100;w=21600', remaining: '76;w=21600' },
    );
    assert.ok(s.mirror.logs.some((l) => l.includes('"upstream rate limit"') && l.includes('"remaining":"76;w=21600"')));
  });
});
