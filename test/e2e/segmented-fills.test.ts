// Segmented fills (docs/segmented-fills.md) against real software: Debian's docker-registry redirecting blobs to a
// CDN host, with the link emulator between the mirror and the CDN. The CDN's records are the ground truth for
// which ranges were asked; the clients check every byte against the digest.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { after, before, beforeEach, describe, test } from 'node:test';
import { request } from 'undici';
import { writeLargeBlob, type LargeBlob } from '../support/large-blob.js';
import { AdminClient } from '../support/admin-client.js';
import { startConnectProxy } from '../support/connect-proxy.js';
import { startMirror, type TestMirror } from '../support/mirror-app.js';
import { parseAccessLines } from '../support/pull-through-setup.js';
import { startRealRegistry, type RealRegistry } from '../support/real-registry.js';

const KiB = 1024;
const segment = 256 * KiB;

interface Pulled {
  status: number;
  digest: string;
  bytes: number;
  error?: string;
}

async function pull(mirror: TestMirror, repository: string, digest: string): Promise<Pulled> {
  const res = await request(`${mirror.url}/v2/${repository}/blobs/${digest}`);
  const hash = createHash('sha256');
  let bytes = 0;
  try {
    for await (const chunk of res.body) {
      hash.update(chunk as Buffer);
      bytes += (chunk as Buffer).length;
    }
  } catch (err) {
    return { status: res.statusCode, digest: '', bytes, error: String(err) };
  }
  return { status: res.statusCode, digest: `sha256:${hash.digest('hex')}`, bytes };
}

function metric(text: string, name: string): number {
  let sum = 0;
  for (const line of text.split('\n')) if (line.startsWith(`${name}{`) || line.startsWith(`${name} `)) sum += Number(line.split(' ').pop());
  return sum;
}

async function metrics(mirror: TestMirror): Promise<string> {
  await settled(mirror);
  return (await mirror.app.metrics.exposition()).body;
}

/** No fill in flight any more, and the access lines of finished responses written. */
async function settled(mirror: TestMirror): Promise<void> {
  for (let i = 0; i < 500 && mirror.app.services.fills.size > 0; i++) await new Promise((r) => setTimeout(r, 10));
  assert.equal(mirror.app.services.fills.size, 0, 'the fill is over');
  await new Promise((r) => setTimeout(r, 50));
}

/** The CDN requests for one blob: the fill's GET without Range first, then its Range requests. */
function cdnRequests(reg: RealRegistry, blob: LargeBlob) {
  return reg.cdn.requests.filter((r) => r.path.includes(blob.digest.slice(7)) && r.method === 'GET');
}

/** `bytes=a-b` -> [a, b] */
function rangeOf(header: string | undefined): [number, number] {
  const m = /^bytes=(\d+)-(\d+)$/.exec(header ?? '');
  assert.ok(m, `not a closed range: ${String(header)}`);
  return [Number(m[1]), Number(m[2])];
}

describe('segmented fills', () => {
  let reg: RealRegistry;
  let mirror: TestMirror;
  const cuts = new Map<number, number>();
  let blobs = 0;

  before(async () => {
    reg = await startRealRegistry({ auth: false, cdnLink: { delayMs: 2, cutDownAfter: (n) => cuts.get(n) } });
  });
  after(async () => {
    await mirror?.close();
    await reg?.stop();
  });

  async function startWith(segments: Record<string, unknown>, extra: Record<string, unknown> = {}): Promise<void> {
    await mirror?.close();
    mirror = await startMirror(configWith(segments, extra));
  }

  function configWith(segments: Record<string, unknown>, extra: Record<string, unknown>): Record<string, unknown> {
    return {
      upstreams: [
        {
          ...extra,
          name: 'origin',
          registry: 'origin.segments.test',
          url: reg.url,
          ca: reg.caFile,
          default: true,
          retries: { attempts: 3, minDelay: '10ms', maxDelay: '50ms' },
          segments: { connections: 4, size: '256KiB', threshold: '512KiB', ...segments },
        },
      ],
    };
  }

  async function coldBlob(size: number): Promise<LargeBlob> {
    return writeLargeBlob(reg, `segments/b${blobs++}`, size);
  }

  beforeEach(() => {
    cuts.clear();
    reg.cdn.ignoreRange = false;
    reg.cdn.expireNext = 0;
    reg.cdn.corruptAt = undefined;
  });

  test('a blob whose size is no multiple of the segment, with a one-byte tail, reassembles byte-exact from its ranges', async () => {
    await startWith({});
    const size = 5 * segment + 1;
    const blob = await coldBlob(size);
    const repository = `segments/b${blobs - 1}`;
    const got = await pull(mirror, repository, blob.digest);
    assert.deepEqual(got, { status: 200, digest: blob.digest, bytes: size });
    const asked = cdnRequests(reg, blob);
    assert.equal(asked[0]?.range, undefined, 'the fill starts with one GET of the whole blob');
    const ranges = asked.slice(1).map((r) => rangeOf(r.range)).sort((a, b) => a[0] - b[0]);
    assert.deepEqual(ranges, [1, 2, 3, 4, 5].map((i) => [i * segment, Math.min(size, (i + 1) * segment) - 1]));
    assert.deepEqual(ranges.at(-1), [size - 1, size - 1], 'the last segment is the one-byte tail');
    assert.ok(asked.every((r) => r.headers.connection === undefined), 'the GET and every segment read straight from the socket (undici sends connection: keep-alive)');
    await settled(mirror);
    const again = await pull(mirror, repository, blob.digest);
    assert.deepEqual(again, { status: 200, digest: blob.digest, bytes: size });
    await settled(mirror);
    const lines = parseAccessLines(mirror.logs).filter((l) => l.url.includes(blob.digest));
    assert.deepEqual(lines.map((l) => l.cache), ['MISS', 'HIT']);
    assert.equal((lines[0] as unknown as { segments: number }).segments, 6);
    assert.equal(metric(await metrics(mirror), 'pullgate_fill_segments_total'), 6);
  });

  test('a size that is not a multiple of the segment (odd tail) reassembles byte-exact', async () => {
    await startWith({});
    const size = 3 * segment + 12_345;
    const blob = await coldBlob(size);
    const got = await pull(mirror, `segments/b${blobs - 1}`, blob.digest);
    assert.deepEqual(got, { status: 200, digest: blob.digest, bytes: size });
    assert.equal(cdnRequests(reg, blob).length, 4);
  });

  test('a segment whose connection breaks is resumed at its first missing byte; the client sees no error', async () => {
    await startWith({});
    const size = 6 * segment + 7;
    const blob = await coldBlob(size);
    const before = reg.cdnLink?.stats().connections ?? 0;
    // The second and third connections opened for this fill (Range requests) break part way.
    cuts.set(before + 1, 100_000);
    cuts.set(before + 2, 150_000);
    const got = await pull(mirror, `segments/b${blobs - 1}`, blob.digest);
    assert.deepEqual(got, { status: 200, digest: blob.digest, bytes: size });
    assert.ok((reg.cdnLink?.stats().cut ?? 0) >= 2, 'the link cut the connections');
    const resumed = cdnRequests(reg, blob).filter((r) => r.range !== undefined && rangeOf(r.range)[0] % segment !== 0);
    assert.ok(resumed.length >= 1, 'a Range request starts inside a segment: a resume');
    assert.ok(metric(await metrics(mirror), 'pullgate_fill_resumes_total') >= 1);
    await settled(mirror);
    const line = parseAccessLines(mirror.logs).find((l) => l.url.includes(blob.digest)) as unknown as { resumes: number };
    assert.ok(line.resumes >= 1);
  });

  test('connections cut at random points on every segment still yield a verified blob, and clients that saw no error', async () => {
    await startWith({ resumes: 20 });
    const size = 8 * segment + 999;
    const blob = await coldBlob(size);
    const first = reg.cdnLink?.stats().connections ?? 0;
    // Every connection of this fill (as many as there are segments, twice over) is cut once at a random byte.
    for (let n = first; n < first + 18; n++) cuts.set(n, 4096 + Math.floor(Math.random() * segment));
    const clients = await Promise.all(Array.from({ length: 4 }, () => pull(mirror, `segments/b${blobs - 1}`, blob.digest)));
    for (const got of clients) assert.deepEqual(got, { status: 200, digest: blob.digest, bytes: size });
    assert.ok((reg.cdnLink?.stats().cut ?? 0) >= 9, 'the link cut the connections');
    await settled(mirror);
    const again = await pull(mirror, `segments/b${blobs - 1}`, blob.digest);
    assert.deepEqual(again, { status: 200, digest: blob.digest, bytes: size });
    await settled(mirror);
    assert.equal(parseAccessLines(mirror.logs).filter((l) => l.url.includes(blob.digest)).at(-1)?.cache, 'HIT');
  });

  test('a blob below the threshold, fetched as one stream, whose connection is cut mid-blob is resumed with a Range request; the client sees no error', async () => {
    await startWith({});
    const size = segment + 1000;
    const blob = await coldBlob(size);
    // The fill's one connection to the CDN (a new mirror: a new connection) breaks 100 000 bytes in.
    cuts.set(reg.cdnLink?.stats().connections ?? 0, 100_000);
    const got = await pull(mirror, `segments/b${blobs - 1}`, blob.digest);
    assert.deepEqual(got, { status: 200, digest: blob.digest, bytes: size });
    assert.ok((reg.cdnLink?.stats().cut ?? 0) >= 1, 'the link cut the connection');
    const asked = cdnRequests(reg, blob);
    assert.equal(asked.length, 2, 'the GET, then one Range request');
    assert.equal(asked[0]?.range, undefined);
    const [start, end] = rangeOf(asked[1]?.range);
    // The cut counts bytes on the wire (TLS records included): the fill had fewer of the blob's.
    assert.ok(start > 0 && start < 100_000, `resumed at ${start}`);
    assert.equal(end, size - 1);
    await settled(mirror);
    const line = parseAccessLines(mirror.logs).find((l) => l.url.includes(blob.digest)) as unknown as { segments: number; resumes: number };
    assert.equal(line.segments, 1);
    assert.equal(line.resumes, 1);
  });

  test('a one-stream fill cut mid-blob whose redirect URL has expired meanwhile resolves it again through the registry; the blob is read straight from the socket, and the resume is counted', async () => {
    await startWith({});
    // The CDN's 403 is chunked, as S3's error answers often are: not framed by the direct reader, it is asked again
    // through undici (docs/operating.md, "Direct reads of blob bodies"), so the URL must stay expired for two answers.
    reg.cdn.expireNext = 2;
    const size = segment + 1000;
    const blob = await coldBlob(size);
    const resumesBefore = metric(await metrics(mirror), 'pullgate_fill_resumes_total');
    cuts.set(reg.cdnLink?.stats().connections ?? 0, 100_000);
    const got = await pull(mirror, `segments/b${blobs - 1}`, blob.digest);
    assert.deepEqual(got, { status: 200, digest: blob.digest, bytes: size });
    const asked = cdnRequests(reg, blob);
    const direct = (r: (typeof asked)[number]): boolean => r.headers.connection === undefined;
    assert.deepEqual([asked[0]?.range, asked[0]?.status, asked[0] && direct(asked[0])], [undefined, 200, true], 'the cut GET, read directly');
    assert.deepEqual(asked.slice(1, -1).map((r) => r.status), [403, 403], 'the expired URL, directly and through undici');
    const last = asked.at(-1);
    assert.deepEqual([last?.status, last && direct(last)], [206, true], 'the rest from the URL the registry gave again, read directly');
    assert.equal(rangeOf(last?.range)[1], size - 1);
    assert.equal(metric(await metrics(mirror), 'pullgate_fill_resumes_total') - resumesBefore, 1, 'one resume: the expired URL is resolved again within it');
  });

  test('a CDN that ignores Range: a one-stream fill cut mid-blob reads the blob again from its start, skipping what it had; the client sees no error', async () => {
    await startWith({});
    reg.cdn.ignoreRange = true;
    const size = segment + 1000;
    const blob = await coldBlob(size);
    cuts.set(reg.cdnLink?.stats().connections ?? 0, 100_000);
    const got = await pull(mirror, `segments/b${blobs - 1}`, blob.digest);
    assert.deepEqual(got, { status: 200, digest: blob.digest, bytes: size });
    const asked = cdnRequests(reg, blob);
    assert.equal(asked.length, 2, 'the GET, then one Range request');
    assert.ok(asked[1]?.range !== undefined);
    assert.equal(asked[1]?.status, 200, 'answered with the whole blob');
  });

  test('a CDN that ignores Range: the fill goes on as one stream, byte-exact', async () => {
    await startWith({});
    reg.cdn.ignoreRange = true;
    const size = 4 * segment + 3;
    const blob = await coldBlob(size);
    const got = await pull(mirror, `segments/b${blobs - 1}`, blob.digest);
    assert.deepEqual(got, { status: 200, digest: blob.digest, bytes: size });
    await settled(mirror);
    const line = parseAccessLines(mirror.logs).find((l) => l.url.includes(blob.digest)) as unknown as { segments: number; cache: string };
    assert.equal(line.cache, 'MISS');
    assert.equal(line.segments, 1);
    // The whole-blob GET carried every byte; the Range requests were dropped at their answer.
    const head = cdnRequests(reg, blob)[0];
    assert.equal(head?.range, undefined);
    assert.equal(head?.status, 200);
    assert.ok((head?.bytesSent ?? 0) >= size, `the first GET sent ${head?.bytesSent} of ${size}`);
  });

  test('a redirect URL that expires mid-fill is resolved again through the registry', async () => {
    await startWith({});
    reg.cdn.expireNext = 2;
    const size = 5 * segment + 17;
    const blob = await coldBlob(size);
    const got = await pull(mirror, `segments/b${blobs - 1}`, blob.digest);
    assert.deepEqual(got, { status: 200, digest: blob.digest, bytes: size });
    const asked = cdnRequests(reg, blob);
    assert.equal(asked.filter((r) => r.status === 403).length, 2, 'two Range requests met the expired URL');
    assert.ok(asked.filter((r) => r.status === 206).length >= 4);
  });

  test('a corrupt segment fails the fill and nothing is kept', async () => {
    await startWith({});
    const size = 4 * segment + 5;
    const blob = await coldBlob(size);
    reg.cdn.corruptAt = 2 * segment + 100;
    const repository = `segments/b${blobs - 1}`;
    const bad = await pull(mirror, repository, blob.digest);
    assert.notEqual(bad.digest, blob.digest, 'the client never gets a complete blob with the bad byte');
    assert.ok(bad.error !== undefined || bad.bytes < size, `the client's transfer did not end cleanly: ${JSON.stringify(bad)}`);
    reg.cdn.corruptAt = undefined;
    await settled(mirror);
    const good = await pull(mirror, repository, blob.digest);
    assert.deepEqual(good, { status: 200, digest: blob.digest, bytes: size });
    await settled(mirror);
    const lines = parseAccessLines(mirror.logs).filter((l) => l.url.includes(blob.digest));
    assert.deepEqual(lines.map((l) => l.cache), ['MISS', 'MISS'], 'the failed fill kept nothing: the second pull is a miss');
  });

  test('16 concurrent clients of one cold blob make one fill', async () => {
    await startWith({});
    const size = 6 * segment + 4242;
    const blob = await coldBlob(size);
    const clients = await Promise.all(Array.from({ length: 16 }, () => pull(mirror, `segments/b${blobs - 1}`, blob.digest)));
    for (const got of clients) assert.deepEqual(got, { status: 200, digest: blob.digest, bytes: size });
    const asked = cdnRequests(reg, blob);
    assert.equal(asked.length, 7, 'one GET and six Range requests: one fill');
    await settled(mirror);
    const lines = parseAccessLines(mirror.logs).filter((l) => l.url.includes(blob.digest));
    assert.equal(lines.filter((l) => l.cache === 'MISS').length, 1);
    assert.equal(lines.filter((l) => l.cache === 'COALESCED').length, 15);
  });

  test('through the upstream HTTP proxy, every segment connection is a CONNECT tunnel and the blob is byte-exact', async () => {
    const proxy = await startConnectProxy();
    const proxied = await startMirror(configWith({}, { proxy: proxy.url }));
    try {
      const size = 5 * segment + 77;
      const blob = await coldBlob(size);
      const got = await pull(proxied, `segments/b${blobs - 1}`, blob.digest);
      assert.deepEqual(got, { status: 200, digest: blob.digest, bytes: size });
      const ranged = cdnRequests(reg, blob).filter((r) => r.range !== undefined && r.status === 206);
      assert.equal(ranged.length, 5);
      const cdnTarget = `${reg.cdnLink?.host}:${reg.cdnLink?.port}`;
      const tunnels = proxy.seen.filter((t) => t === `CONNECT ${cdnTarget}`);
      assert.ok(tunnels.length >= 2, `concurrent segments open tunnels of their own: ${JSON.stringify(proxy.seen)}`);
      assert.ok(proxy.seen.some((t) => t.startsWith('CONNECT 127.0.0.1:')), 'the registry is reached through the proxy too');
    } finally {
      await proxied.close();
      await proxy.close();
    }
  });
});

describe('a segmented fill in the admin API', () => {
  let reg: RealRegistry;
  let mirror: TestMirror;

  before(async () => {
    // One MiB/s per connection: the fill is still running while the admin is asked.
    reg = await startRealRegistry({ auth: false, cdnLink: { delayMs: 5, bytesPerSecond: 1024 * KiB } });
    mirror = await startMirror(
      {
        listen: { admin: '127.0.0.1:0' },
        upstreams: [
          {
            name: 'origin',
            registry: 'origin.segments.test',
            url: reg.url,
            ca: reg.caFile,
            default: true,
            segments: { connections: 4, size: '256KiB', threshold: '512KiB' },
          },
        ],
      },
      { adminPassword: 'admin-secret-1' },
    );
  });
  after(async () => {
    await mirror?.close();
    await reg?.stop();
  });

  test('shows each segment of the fill in flight: byte range, bytes received, state', async () => {
    const size = 12 * segment + 5;
    const blob = await writeLargeBlob(reg, 'segments/admin', size);
    const admin = new AdminClient(mirror.adminUrl ?? '');
    assert.equal((await admin.login('admin-secret-1')).status, 200);
    const pulling = pull(mirror, 'segments/admin', blob.digest);
    type Snapshot = { fills: Array<{ digest: string; segments?: Array<{ start: number; end: number; received: number; state: string }> }> };
    const seen = await admin.until<Snapshot>('/api/activity', (s) => (s.fills.find((f) => f.digest === blob.digest)?.segments ?? []).some((g) => g.received > 0), 20_000);
    const segments = seen.fills.find((f) => f.digest === blob.digest)?.segments ?? [];
    assert.equal(segments.length, 13);
    assert.deepEqual(segments[0], { ...segments[0], start: 0, end: segment - 1 });
    assert.deepEqual(segments.at(-1), { ...segments.at(-1), start: 12 * segment, end: size - 1 });
    for (const g of segments) assert.ok(g.received >= 0 && g.received <= g.end - g.start + 1);
    assert.ok(segments.some((g) => g.state === 'fetching'));
    assert.deepEqual(await pulling, { status: 200, digest: blob.digest, bytes: size });
  });
});
