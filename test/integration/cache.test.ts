import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, beforeEach, describe, test } from 'node:test';
import { FakeUpstream, type FakeManifest } from '../support/fake/fake-upstream.js';
import { errorCode, get } from '../support/fake/mirror-over-fake.js';
import { startMirror, type TestMirror } from '../support/mirror-app.js';
import { httpsListener, protocols, registryClient, type RegistryClient } from '../support/registry-client.js';
import { parseDigest } from '../../src/registry/digest.js';

const cacheMarks = (m: TestMirror, reference: string) =>
  m.logs.filter((l) => l.includes(`"reference":"${reference}"`)).map((l) => (JSON.parse(l) as { cache?: string }).cache);

/** The access line is written when the server side of a response closes, which may be just after the client's end. */
async function markOfRequest(m: TestMirror, reference: string, nth: number): Promise<string | undefined> {
  for (let i = 0; i < 100 && cacheMarks(m, reference).length < nth; i++) await new Promise((r) => setTimeout(r, 10));
  return cacheMarks(m, reference)[nth - 1];
}

for (const protocol of protocols) describe(`the blob cache (${protocol})`, () => {
  let up: FakeUpstream;
  let mirror: TestMirror;
  let c: RegistryClient;
  const download = (path: string, headers: Record<string, string> = {}) => c.fetch(path, { headers });
  before(async () => {
    up = await new FakeUpstream({ auth: true }).start();
    mirror = await startMirror({ ...(await httpsListener()), upstreams: [{ name: 'hub', registry: 'docker.io', url: up.url, default: true }] });
    c = await registryClient(protocol, mirror);
  });
  after(async () => {
    await c.close();
    await mirror.close();
    await up.stop();
  });
  beforeEach(() => up.reset());

  // Authorised GETs: the very first request of a run also meets one 401 before the token dance.
  const blobFetches = (digest: string) => up.count((r) => r.method === 'GET' && r.path.endsWith(`/blobs/${digest}`) && r.headers.authorization !== undefined);
  const fresh = (size = 2 * 1024 * 1024 + 5) => {
    const bytes = randomBytes(size);
    return { bytes, digest: up.addBlob(bytes), url: (repo = 'library/alpine') => `/v2/${repo}/blobs/${up.addBlob(bytes)}` };
  };

  test('sixteen concurrent cold requests, full and ranged, make one upstream fetch and all get the right bytes', async () => {
    const b = fresh();
    up.faults.blobChunkDelayMs = 2;
    const ranges = [undefined, 'bytes=0-', 'bytes=1000-', `bytes=${b.bytes.length - 10}-`, 'bytes=5-99', undefined, 'bytes=-100', undefined];
    const all = await Promise.all(
      Array.from({ length: 16 }, (_, i) => {
        const range = ranges[i % ranges.length];
        return download(b.url(), range ? { range } : {}).then((r) => ({ r, range }));
      }),
    );
    for (const { r, range } of all) {
      if (!range) {
        assert.equal(r.status, 200);
        assert.ok(r.body.equals(b.bytes));
      } else {
        assert.equal(r.status, 206, range);
        const [, s, e] = /bytes (\d+)-(\d+)\//.exec(String(r.headers['content-range']))!;
        assert.ok(r.body.equals(b.bytes.subarray(Number(s), Number(e) + 1)), range);
      }
    }
    assert.equal(blobFetches(b.digest), 1);
    // Same repository: the fill's GET confirms it for every follower, no HEAD competes with it.
    assert.equal(up.count((q) => q.method === 'HEAD' && q.path.endsWith(`/blobs/${b.digest}`)), 0);
    await markOfRequest(mirror, b.digest, 16);
    const marks = cacheMarks(mirror, b.digest);
    assert.equal(marks.filter((m) => m === 'MISS').length, 1);
    assert.ok(marks.filter((m) => m === 'COALESCED' || m === 'HIT').length === 15, marks.join(','));
  });

  test('a cached blob is served without asking the upstream, Range included', async () => {
    const b = fresh();
    await download(b.url());
    up.reset();
    const r = await download(b.url(), { range: 'bytes=100-199' });
    assert.equal(r.status, 206);
    assert.ok(r.body.equals(b.bytes.subarray(100, 200)));
    assert.equal(up.requests.length, 0);
    assert.equal(await markOfRequest(mirror, b.digest, 2), 'HIT');
  });

  test('a client that disconnects after the first chunk does not stop the fill', async () => {
    const b = fresh(4 * 1024 * 1024);
    up.faults.blobChunkDelayMs = 3;
    const res = await c.stream(b.url());
    for await (const _chunk of res.body) break;
    res.body.destroy();
    for (let i = 0; i < 100 && cacheMarks(mirror, b.digest).length < 1; i++) await new Promise((r) => setTimeout(r, 50));
    for (let i = 0; i < 200; i++) {
      up.faults.blobChunkDelayMs = 0;
      const again = await download(b.url());
      if (cacheMarks(mirror, b.digest).at(-1) === 'HIT') {
        assert.ok(again.body.equals(b.bytes));
        break;
      }
      await new Promise((r) => setTimeout(r, 50));
    }
    assert.equal(cacheMarks(mirror, b.digest).at(-1), 'HIT');
    assert.equal(blobFetches(b.digest), 1);
  });

  test('a client that leaves while its fill waits on a stalled upstream stops following it at once', async () => {
    const b = fresh(4 * 1024 * 1024);
    up.faults.stallBlobAt = 1024 * 1024;
    const res = await c.stream(b.url());
    let got = 0;
    for await (const chunk of res.body) {
      got += (chunk as Buffer).length;
      if (got >= 512 * 1024) break;
    }
    const inflight = mirror.app.services.fills.get(parseDigest(b.digest));
    assert.ok(inflight, 'the fill is in flight');
    const fill = await inflight.fill;
    assert.equal(fill.followers, 1);
    res.body.destroy();
    for (let i = 0; i < 100 && fill.followers > 0; i++) await new Promise((r) => setTimeout(r, 10));
    assert.equal(fill.state, 'filling', 'the upstream is still stalled');
    assert.equal(fill.followers, 0, 'the reader let the fill go when its client left, not at the next byte');
    fill.abort(new Error('test over'));
  });

  test('followers that read slowly (behind the in-memory window) and ranged followers get every byte exact', async () => {
    const b = fresh(16 * 1024 * 1024 + 3);
    up.faults.blobChunkDelayMs = 1;
    const leader = download(b.url());
    while (!mirror.app.services.fills.get(parseDigest(b.digest))) await new Promise((r) => setTimeout(r, 2));
    /** A client that takes its time over every chunk for the first megabytes, then reads on at full speed. */
    const slow = async (range?: string): Promise<{ status: number; body: Buffer; range: string | undefined }> => {
      const res = await c.stream(b.url(), range ? { headers: { range } } : {});
      const parts: Buffer[] = [];
      let got = 0;
      for await (const chunk of res.body) {
        parts.push(chunk as Buffer);
        got += (chunk as Buffer).length;
        if (got < 12 * 1024 * 1024) await new Promise((r) => setTimeout(r, 10));
      }
      return { status: res.status, body: Buffer.concat(parts), range };
    };
    const ranges = [undefined, 'bytes=1-', `bytes=${512 * 1024 - 1}-${4 * 1024 * 1024}`, `bytes=${b.bytes.length - 1}-`, 'bytes=-3', 'bytes=0-0'];
    const results = await Promise.all([...ranges.map((r) => slow(r)), ...ranges.map((r) => download(b.url(), r ? { range: r } : {}).then((x) => ({ ...x, range: r })))]);
    assert.ok((await leader).body.equals(b.bytes));
    for (const r of results) {
      if (!r.range) {
        assert.equal(r.status, 200);
        assert.ok(r.body.equals(b.bytes), 'whole blob');
        continue;
      }
      assert.equal(r.status, 206, r.range);
      const from = r.range === 'bytes=-3' ? b.bytes.length - 3 : Number(/bytes=(\d+)-/.exec(r.range)![1]);
      const to = /-(\d+)$/.exec(r.range) && r.range !== 'bytes=-3' ? Number(/-(\d+)$/.exec(r.range)![1]) : b.bytes.length - 1;
      assert.ok(r.body.equals(b.bytes.subarray(from, to + 1)), `${r.range}: ${r.body.length} bytes`);
    }
    assert.equal(blobFetches(b.digest), 1);
  });

  for (const fault of ['corrupt', 'truncate'] as const) {
    test(`a ${fault === 'corrupt' ? 'corrupted upstream body' : 'upstream body truncated at the same byte on every resume'} fails every follower and caches nothing`, async () => {
      const b = fresh();
      up.faults.blobChunkDelayMs = 2;
      if (fault === 'corrupt') up.faults.corruptBlob = true;
      else up.faults.truncateBlobAt = 1024 * 1024;
      const results = await Promise.allSettled(Array.from({ length: 4 }, () => download(b.url())));
      for (const r of results) assert.equal(r.status, 'rejected');
      up.reset();
      const again = await download(b.url());
      assert.ok(again.body.equals(b.bytes));
      assert.equal(blobFetches(b.digest), 1, 'refetched: nothing was cached');
    });
  }

  test('a blob cached under one repository is confirmed upstream before it is served under another', async () => {
    const b = fresh(1000);
    await download(b.url('library/alpine'));
    up.reset();
    const r = await get(c, `/v2/team/other/blobs/${b.digest}`);
    // The fake upstream holds every blob in every repository, so the confirmation succeeds with a HEAD.
    assert.equal(r.status, 200);
    assert.ok(r.body.equals(b.bytes));
    assert.equal(up.count((q) => q.method === 'HEAD' && q.path === `/v2/team/other/blobs/${b.digest}`), 1);
    assert.equal(blobFetches(b.digest), 0);
  });

  test('a request under another repository confirms it upstream before following a fill in flight', async () => {
    const b = fresh(4 * 1024 * 1024);
    up.faults.blobChunkDelayMs = 2;
    const first = download(b.url('library/alpine'));
    while (!mirror.app.services.fills.get(parseDigest(b.digest))) await new Promise((r) => setTimeout(r, 5));
    const other = await download(b.url('team/other'));
    assert.ok(other.body.equals(b.bytes));
    assert.ok((await first).body.equals(b.bytes));
    assert.equal(up.count((q) => q.method === 'HEAD' && q.path === `/v2/team/other/blobs/${b.digest}`), 1);
    assert.equal(up.count((q) => q.method === 'HEAD' && q.path === `/v2/library/alpine/blobs/${b.digest}`), 0);
    assert.equal(blobFetches(b.digest), 1);
    // The other repository's request followed the fill (it did not find the blob stored yet).
    await markOfRequest(mirror, b.digest, 2);
    assert.deepEqual(cacheMarks(mirror, b.digest).sort(), ['COALESCED', 'MISS']);
  });

  test('a blob the upstream does not have under the asked repository is not served from the cache there', async () => {
    const b = fresh(1000);
    await download(b.url('library/alpine'));
    up.blobs.delete(b.digest);
    const r = await get(c, `/v2/team/elsewhere/blobs/${b.digest}`);
    assert.equal(r.status, 404);
    assert.equal(errorCode(r), 'BLOB_UNKNOWN');
  });

  test('a HEAD of an uncached blob does not start a fill', async () => {
    const b = fresh(1000);
    const r = await get(c, `/v2/library/alpine/blobs/${b.digest}`, { method: 'HEAD' });
    assert.equal(r.headers['content-length'], '1000');
    assert.equal(blobFetches(b.digest), 0);
  });
});

for (const protocol of protocols) describe(`the manifest and tag cache (${protocol})`, () => {
  let up: FakeUpstream;
  let mirror: TestMirror;
  let c: RegistryClient;
  let now = Date.now();
  let image: FakeManifest;
  before(async () => {
    up = await new FakeUpstream({ auth: true, tokenExpiresIn: 3600 * 24 }).start();
    image = up.addImage('library/alpine', '3.20', [Buffer.alloc(100, 1)]);
    mirror = await startMirror({ ...(await httpsListener()), upstreams: [{ name: 'hub', registry: 'docker.io', url: up.url, default: true, tagTtl: '5m' }] }, { clock: () => now });
    c = await registryClient(protocol, mirror);
  });
  after(async () => {
    await c.close();
    await mirror.close();
    await up.stop();
  });
  beforeEach(() => up.reset());

  const manifestRequests = (method: string) => up.count((r) => r.method === method && r.path.includes('/manifests/'));

  test('a tag inside its freshness window makes no upstream request', async () => {
    await get(c, '/v2/library/alpine/manifests/3.20');
    up.reset();
    now += 60_000;
    for (const method of ['GET', 'HEAD'] as const) {
      const r = await get(c, '/v2/library/alpine/manifests/3.20', { method });
      assert.equal(r.status, 200);
      assert.equal(r.headers['docker-content-digest'], image.digest);
    }
    assert.equal(up.requests.length, 0);
  });

  test('after the window, exactly one HEAD revalidates it and nothing is fetched again', async () => {
    await get(c, '/v2/library/alpine/manifests/3.20');
    now += 6 * 60_000;
    up.reset();
    const r = await get(c, '/v2/library/alpine/manifests/3.20');
    assert.equal(r.headers['docker-content-digest'], image.digest);
    assert.equal(manifestRequests('HEAD'), 1);
    assert.equal(manifestRequests('GET'), 0);
    assert.equal(cacheMarks(mirror, '3.20').at(-1), 'REVALIDATED');
  });

  test('a tag moved upstream is fetched once, by the new digest only', async () => {
    await get(c, '/v2/library/alpine/manifests/3.20');
    const moved = up.addImage('library/alpine', '3.20', [Buffer.alloc(100, 2)]);
    now += 6 * 60_000;
    up.reset();
    const r = await get(c, '/v2/library/alpine/manifests/3.20');
    assert.equal(r.headers['docker-content-digest'], moved.digest);
    assert.equal(manifestRequests('HEAD'), 1);
    assert.equal(manifestRequests('GET'), 1);
    image = moved;
  });

  for (const [name, fault] of [
    ['an upstream outage', { serverError: 503 }],
    ['a 429', { rateLimited: '30' }],
  ] as const) {
    test(`${name} serves the stale tag and the access log says STALE`, async () => {
      await get(c, '/v2/library/alpine/manifests/3.20');
      now += 6 * 60_000;
      up.faults = { ...fault };
      const r = await get(c, '/v2/library/alpine/manifests/3.20');
      assert.equal(r.status, 200);
      assert.equal(r.headers['docker-content-digest'], image.digest);
      assert.equal(cacheMarks(mirror, '3.20').at(-1), 'STALE');
      up.faults = {};
    });
  }

  test('a manifest by digest is served from the cache without asking the upstream', async () => {
    await get(c, '/v2/library/alpine/manifests/3.20');
    up.reset();
    up.faults.serverError = 503;
    const r = await get(c, `/v2/library/alpine/manifests/${image.digest}`);
    assert.equal(r.status, 200);
    assert.deepEqual(r.body, image.bytes);
    assert.equal(up.requests.length, 0);
    up.faults = {};
  });

  test('an uncached tag with the upstream down is UNAVAILABLE, not a made-up answer', async () => {
    up.faults.serverError = 503;
    const r = await get(c, '/v2/library/alpine/manifests/never-pulled');
    assert.equal(r.status, 503);
    up.faults = {};
  });
});

describe('an offline upstream', () => {
  test('serves only what is cached and never dials the upstream', async () => {
    const up = await new FakeUpstream().start();
    const image = up.addImage('library/alpine', '1', [Buffer.alloc(10, 1)]);
    const first = await startMirror({ upstreams: [{ name: 'hub', registry: 'docker.io', url: up.url, default: true }] });
    await get(first.url, '/v2/library/alpine/manifests/1');
    await first.app.close();
    const offline = await startMirror({ upstreams: [{ name: 'hub', registry: 'docker.io', url: up.url, default: true, offline: true, tagTtl: '1ms' }] }, { dataDir: first.dataDir });
    try {
      up.reset();
      await new Promise((r) => setTimeout(r, 5));
      const hit = await get(offline.url, '/v2/library/alpine/manifests/1');
      assert.equal(hit.headers['docker-content-digest'], image.digest);
      const miss = await get(offline.url, '/v2/library/alpine/manifests/2');
      assert.equal(miss.status, 404);
      assert.equal(errorCode(miss), 'MANIFEST_UNKNOWN');
      assert.equal(up.requests.length, 0);
    } finally {
      await offline.close();
      await first.close();
      await up.stop();
    }
  });
});

describe('restarts', () => {
  test('leftover temp files of a crashed fill are removed at start and never served', async () => {
    const up = await new FakeUpstream().start();
    const first = await startMirror({ upstreams: [{ name: 'hub', registry: 'docker.io', url: up.url, default: true }] });
    await first.app.close();
    const { writeFile, mkdir } = await import('node:fs/promises');
    await mkdir(join(first.dataDir, 'tmp'), { recursive: true });
    await writeFile(join(first.dataDir, 'tmp', 'partial-fill'), randomBytes(1000));
    const second = await startMirror({ upstreams: [{ name: 'hub', registry: 'docker.io', url: up.url, default: true }] }, { dataDir: first.dataDir });
    try {
      assert.deepEqual(await readdir(join(first.dataDir, 'tmp')), []);
    } finally {
      await second.close();
      await first.close();
      await up.stop();
    }
  });
});
