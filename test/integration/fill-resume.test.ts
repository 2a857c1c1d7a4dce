// A fill whose one upstream connection breaks mid-blob asks for the rest with a Range request instead of failing
// (docs/segmented-fills.md, "Resume instead of abort"); one whose upstream keeps breaking at the same byte fails
// after the bounded resumes, as it would without them, and keeps nothing. The fake upstream resets the connection
// (TCP RST) at a byte of the blob, so what the kernel had not delivered yet is lost and asked for again.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, beforeEach, describe, test } from 'node:test';
import { request } from 'undici';
import { FakeUpstream } from '../support/fake/fake-upstream.js';
import { startMirror, type TestMirror } from '../support/mirror-app.js';
import { serveMetrics, total, type MetricsEndpoint } from '../support/prometheus-text.js';

async function download(url: string): Promise<{ status: number; body: Buffer }> {
  const res = await request(url);
  const chunks: Buffer[] = [];
  for await (const c of res.body) chunks.push(c as Buffer);
  return { status: res.statusCode, body: Buffer.concat(chunks) };
}

describe('one-stream fills resume with Range requests', () => {
  let up: FakeUpstream;
  let mirror: TestMirror;
  let blob: Buffer;
  let digest: string;

  before(async () => {
    up = await new FakeUpstream().start();
    mirror = await startMirror({
      timeouts: { headers: '500ms', idle: '500ms' },
      cache: { fillIdleTimeout: '500ms' },
      upstreams: [{ name: 'hub', registry: 'docker.io', url: up.url, default: true, retries: { attempts: 3, minDelay: '20ms', maxDelay: '1500ms' } }],
    });
  });
  after(async () => {
    await mirror.close();
    await up.stop();
  });
  beforeEach(() => {
    up.reset();
    // Below the default threshold: one stream.
    blob = randomBytes(2 * 1024 * 1024 + 5);
    digest = up.addBlob(blob);
  });

  const blobUrl = () => `${mirror.url}/v2/library/alpine/blobs/${digest}`;
  const blobGets = () => up.requests.filter((r) => r.method === 'GET' && r.path.endsWith(`/blobs/${digest}`));

  /** The fault is over: the next pull goes upstream again (nothing was cached) and gets the right bytes. */
  async function refetchesCleanly(): Promise<void> {
    up.reset();
    const r = await download(blobUrl());
    assert.equal(r.status, 200);
    assert.ok(r.body.equals(blob), 'the right bytes after the fault');
    assert.equal(blobGets().length, 1, 'nothing was cached during the fault');
  }

  test('a connection reset mid-blob is resumed from its first missing byte; reset again at every resume, the client transfer aborts after the bounded resumes and nothing is cached', async () => {
    up.faults.resetBlobAt = 1024 * 1024;
    await assert.rejects(download(blobUrl()));
    const gets = blobGets();
    assert.equal(gets.filter((r) => r.headers.range === undefined).length, 1, 'a body already passed on is never fetched from the start again');
    // A reset loses what the kernel had not delivered: each resume asks from the first byte the fill is missing.
    const starts = gets.slice(1).map((r) => {
      const m = /^bytes=(\d+)-(\d+)$/.exec(String(r.headers.range));
      assert.ok(m && Number(m[2]) === blob.length - 1, `a Range request for the rest: ${String(r.headers.range)}`);
      return Number(m[1]);
    });
    assert.deepEqual(starts, [...starts].sort((a, b) => a - b), 'never asks again for bytes it had');
    assert.equal(starts.at(-1), 1024 * 1024);
    const stuck = starts.filter((s) => s === 1024 * 1024).length;
    // The default segments.resumes (5): at most 5 tries in a row without progress after one that brought bytes.
    assert.ok(stuck >= 1 && stuck <= 6, `${stuck} tries without progress`);
    await refetchesCleanly();
  });

  test('a connection reset mid-blob once is invisible to the client: the fill asks for the rest with a Range request', async () => {
    up.faults.resetBlobAt = 1024 * 1024;
    up.faults.resetBlobTimes = 1;
    const r = await download(blobUrl());
    assert.equal(r.status, 200);
    assert.ok(r.body.equals(blob));
    const ranges = blobGets().map((q) => q.headers.range);
    assert.equal(ranges.length, 2, 'the GET, then one Range request');
    assert.equal(ranges[0], undefined);
    const m = /^bytes=(\d+)-(\d+)$/.exec(String(ranges[1]));
    // What the reset lost in the kernel's buffers is asked again: never more than the first MiB, never past it.
    assert.ok(m && Number(m[1]) > 0 && Number(m[1]) <= 1024 * 1024 && Number(m[2]) === blob.length - 1, String(ranges[1]));
  });
});

describe('a resumed fill behind token auth and a signed CDN redirect', () => {
  let up: FakeUpstream;
  let mirror: TestMirror;
  let metrics: MetricsEndpoint;

  before(async () => {
    up = await new FakeUpstream({ auth: true }).start();
    mirror = await startMirror({
      timeouts: { headers: '500ms', idle: '500ms' },
      cache: { fillIdleTimeout: '500ms' },
      upstreams: [{ name: 'hub', registry: 'docker.io', url: up.url, default: true, retries: { attempts: 3, minDelay: '20ms', maxDelay: '1500ms' } }],
    });
    metrics = await serveMetrics(mirror.app);
  });
  after(async () => {
    await metrics?.close();
    await mirror?.close();
    await up?.stop();
  });

  test('a reset read straight from the CDN is resumed there with Range, byte-exact, counted in pullgate_fill_resumes_total, and no log line carries the token or the signature', async () => {
    const blob = randomBytes(2 * 1024 * 1024 + 5);
    const digest = up.addBlob(blob);
    up.faults = { redirectBlobs: 'absolute', resetBlobAt: 1024 * 1024, resetBlobTimes: 1 };
    const r = await download(`${mirror.url}/v2/library/alpine/blobs/${digest}`);
    assert.equal(r.status, 200);
    assert.ok(r.body.equals(blob), 'the exact bytes');
    const cdn = up.requests.filter((q) => q.origin === 'cdn');
    assert.deepEqual(cdn.map((q) => q.headers.range === undefined), [true, false], 'the GET, then one Range request to the CDN');
    assert.ok(cdn.every((q) => q.headers.connection === undefined), 'both read straight from the socket (undici sends connection: keep-alive)');
    assert.ok(cdn.every((q) => q.query.get('sig') === 'secret-signature' && q.headers.authorization === undefined));
    assert.equal(total((await metrics.scrape()).samples, 'pullgate_fill_resumes_total', { upstream: 'hub' }), 1);
    const tokens = up.requests.map((q) => q.headers.authorization?.replace(/^Bearer /, '')).filter((t): t is string => t !== undefined);
    assert.ok(tokens.length > 0);
    const leaks = mirror.logs.filter((line) => line.includes('secret-signature') || tokens.some((t) => line.includes(t)) || /bearer /i.test(line));
    assert.deepEqual(leaks, []);
  });
});
