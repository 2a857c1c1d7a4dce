// The upstream-facing half of the fault suite (docs/configuration.md, "Upstream resilience"), against the in-process
// fake upstream: whatever the upstream does, a client gets the right bytes or a clean OCI error / aborted transfer
// (never a clean short body), nothing corrupt is cached, and cached content is served while the upstream is in trouble.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, beforeEach, describe, test } from 'node:test';
import { request } from 'undici';
import { startConnectProxy, type ConnectProxy } from '../support/connect-proxy.js';
import { FakeUpstream, type FakeManifest } from '../support/fake/fake-upstream.js';
import { errorCode, get } from '../support/fake/mirror-over-fake.js';
import { AdminClient } from '../support/admin-client.js';
import { startMirror, type TestMirror } from '../support/mirror-app.js';
import type { EndpointView } from '../../src/upstream/upstream.js';

/** Reads a whole body; rejects when the transfer is aborted rather than ended cleanly. */
async function download(url: string, headers: Record<string, string> = {}): Promise<{ status: number; body: Buffer }> {
  const res = await request(url, { headers });
  const chunks: Buffer[] = [];
  for await (const c of res.body) chunks.push(c as Buffer);
  return { status: res.statusCode, body: Buffer.concat(chunks) };
}

const cacheMarks = (m: TestMirror, reference: string) =>
  m.logs.filter((l) => l.includes(`"reference":"${reference}"`) && l.includes('"cache"')).map((l) => (JSON.parse(l) as { cache?: string }).cache);

async function lastMark(m: TestMirror, reference: string, count: number): Promise<string | undefined> {
  for (let i = 0; i < 100 && cacheMarks(m, reference).length < count; i++) await new Promise((r) => setTimeout(r, 10));
  return cacheMarks(m, reference).at(-1);
}

const blobGets = (up: FakeUpstream, digest: string) => up.count((r) => r.method === 'GET' && r.path.endsWith(`/blobs/${digest}`));
const manifestRequests = (up: FakeUpstream) => up.count((r) => r.path.includes('/manifests/'));
const endpoints = (m: TestMirror, name = 'hub'): EndpointView[] => m.app.upstreams.router().named(name)?.endpointViews() ?? [];

const fastRetries = { attempts: 3, minDelay: '20ms', maxDelay: '1500ms' };

describe('upstream faults', () => {
  let up: FakeUpstream;
  let mirror: TestMirror;
  let now = Date.now();
  let blob: Buffer;
  let digest: string;
  let image: FakeManifest;

  before(async () => {
    up = await new FakeUpstream().start();
    mirror = await startMirror(
      {
        timeouts: { headers: '500ms', idle: '500ms' },
        cache: { fillIdleTimeout: '500ms' },
        // The breaker is tested on its own below; here it must not open between tests.
        upstreams: [{ name: 'hub', registry: 'docker.io', url: up.url, default: true, tagTtl: '1m', retries: fastRetries, circuit: { failures: 1000 } }],
      },
      { clock: () => now },
    );
  });
  after(async () => {
    await mirror.close();
    await up.stop();
  });
  beforeEach(() => {
    up.reset();
    blob = randomBytes(2 * 1024 * 1024 + 5);
    digest = up.addBlob(blob);
    image = up.addImage('library/alpine', 'cached', [randomBytes(100)]);
  });

  const blobUrl = () => `${mirror.url}/v2/library/alpine/blobs/${digest}`;

  /** The fault is over: the next pull goes upstream again (nothing was cached) and gets the right bytes. */
  async function refetchesCleanly(): Promise<void> {
    up.reset();
    const r = await download(blobUrl());
    assert.equal(r.status, 200);
    assert.ok(r.body.equals(blob), 'the right bytes after the fault');
    assert.equal(blobGets(up, digest), 1, 'nothing was cached during the fault');
  }

  /** Caches the tag, then lets its TTL pass so the next request asks the upstream. */
  async function cachedStaleTag(): Promise<void> {
    const first = await get(mirror.url, '/v2/library/alpine/manifests/cached');
    assert.equal(first.status, 200);
    now += 2 * 60_000;
  }

  async function servedStale(): Promise<void> {
    const r = await get(mirror.url, '/v2/library/alpine/manifests/cached');
    assert.equal(r.status, 200);
    assert.equal(r.headers['docker-content-digest'], image.digest);
    assert.ok(r.body.equals(image.bytes));
    assert.equal(await lastMark(mirror, 'cached', 2), 'STALE');
  }

  test('an upstream that stalls mid-blob is cut off after the idle timeout: aborted, nothing cached', async () => {
    up.faults.stallBlobAt = 64 * 1024;
    const started = Date.now();
    await assert.rejects(download(blobUrl()));
    assert.ok(Date.now() - started < 5000, 'the stall is cut off, not waited out');
    await refetchesCleanly();
  });

  test('an upstream that stalls before its headers times out as UPSTREAM_TIMEOUT; a cached tag is served STALE', async () => {
    await cachedStaleTag();
    up.faults.headerDelayMs = 1500;
    const miss = await get(mirror.url, '/v2/library/alpine/manifests/never-cached');
    assert.equal(miss.status, 504);
    assert.equal(errorCode(miss), 'UPSTREAM_TIMEOUT');
    await servedStale();
  });

  test('a 5xx storm that ends within the retries is invisible to the client', async () => {
    up.faults.serverErrorTimes = 2;
    const r = await download(blobUrl());
    assert.equal(r.status, 200);
    assert.ok(r.body.equals(blob));
    assert.equal(blobGets(up, digest), 3, 'two failures, then the answer');
  });

  test('a 5xx storm that outlasts the retries is UNAVAILABLE after exactly the configured attempts; a cached tag is STALE', async () => {
    await cachedStaleTag();
    up.faults.serverError = 502;
    up.requests.length = 0;
    const miss = await get(mirror.url, '/v2/library/alpine/manifests/never-cached');
    assert.equal(miss.status, 503);
    assert.equal(errorCode(miss), 'UNAVAILABLE');
    assert.equal(manifestRequests(up), 3);
    await servedStale();
  });

  test('a 429 storm with a long Retry-After is passed on at once with its Retry-After, never retried; a cached tag is STALE', async () => {
    await cachedStaleTag();
    up.faults.rateLimited = '60';
    up.requests.length = 0;
    const r = await get(mirror.url, '/v2/library/alpine/manifests/never-cached');
    assert.equal(r.status, 429);
    assert.equal(errorCode(r), 'TOOMANYREQUESTS');
    assert.equal(r.headers['retry-after'], '60');
    assert.equal(manifestRequests(up), 1);
    await servedStale();
  });

  test('a 429 with a short Retry-After is waited out, then retried', async () => {
    up.faults.rateLimited = '1';
    up.faults.rateLimitedTimes = 1;
    const started = Date.now();
    const r = await download(blobUrl());
    assert.equal(r.status, 200);
    assert.ok(r.body.equals(blob));
    assert.ok(Date.now() - started >= 1000, 'Retry-After: 1 was honoured');
    assert.equal(blobGets(up, digest), 2);
  });

  test('a blob with the wrong digest aborts the transfer and is not cached', async () => {
    up.faults.corruptBlob = true;
    await assert.rejects(download(blobUrl()));
    await refetchesCleanly();
  });

  test('a manifest with the wrong digest is refused as UPSTREAM_INVALID and not cached', async () => {
    up.faults.corruptManifest = true;
    const r = await get(mirror.url, `/v2/library/alpine/manifests/${image.digest}`);
    assert.equal(r.status, 502);
    assert.equal(errorCode(r), 'UPSTREAM_INVALID');
    up.reset();
    const again = await get(mirror.url, `/v2/library/alpine/manifests/${image.digest}`);
    assert.equal(again.status, 200);
    assert.ok(again.body.equals(image.bytes));
    assert.equal(manifestRequests(up), 1, 'the corrupt manifest was not cached');
  });

  for (const [name, delta] of [
    ['longer', 1000],
    ['shorter', -1000],
  ] as const) {
    test(`a Content-Length ${name} than the body aborts the transfer and caches nothing`, async () => {
      up.faults.contentLengthDelta = delta;
      await assert.rejects(download(blobUrl()));
      await refetchesCleanly();
    });
  }

  test('a redirect loop is a clean UPSTREAM_INVALID after a bounded number of hops; a cached tag is STALE', async () => {
    await cachedStaleTag();
    up.faults.redirectLoop = true;
    up.requests.length = 0;
    const r = await get(mirror.url, `/v2/library/alpine/blobs/${digest}`);
    assert.equal(r.status, 502);
    assert.equal(errorCode(r), 'UPSTREAM_INVALID');
    assert.match(r.body.toString(), /redirected more than 5 times/);
    assert.equal(blobGets(up, digest), 6, 'one request and five redirects, not retried');
    await servedStale();
  });
});

describe('redirects to private addresses', () => {
  let up: FakeUpstream;
  let proxy: ConnectProxy;
  let mirror: TestMirror;
  let blob: Buffer;
  let digest: string;

  before(async () => {
    up = await new FakeUpstream().start();
    const port = new URL(up.url).port;
    // The upstream has a public-looking name that only the egress proxy resolves, as on the internet.
    proxy = await startConnectProxy({ hosts: { 'registry.public.test': '127.0.0.1' } });
    const publicUrl = `http://registry.public.test:${port}`;
    mirror = await startMirror({
      upstreams: [
        { name: 'hub', registry: 'docker.io', url: publicUrl, proxy: proxy.url, default: true, retries: fastRetries },
        { name: 'allowed', registry: 'allowed.test', hosts: ['allowed.test'], url: publicUrl, proxy: proxy.url, allowPrivateRedirects: true },
        { name: 'private', registry: 'private.test', hosts: ['private.test'], url: up.url },
      ],
    });
  });
  after(async () => {
    await mirror.close();
    await proxy.close();
    await up.stop();
  });
  beforeEach(() => {
    up.reset();
    blob = randomBytes(4096);
    digest = up.addBlob(blob);
  });

  for (const target of ['literal', 'name'] as const) {
    test(`a public upstream's redirect to a loopback ${target === 'literal' ? 'address' : 'name (localhost)'} is refused, says why, and the target is never dialled`, async () => {
      const cdn = new URL(up.cdnUrl);
      up.faults.redirectBlobsTo = target === 'literal' ? up.cdnUrl : `http://localhost:${cdn.port}`;
      const r = await get(mirror.url, `/v2/library/alpine/blobs/${digest}`);
      assert.equal(r.status, 502);
      assert.equal(errorCode(r), 'UPSTREAM_INVALID');
      assert.match(r.body.toString(), /private address 127\.0\.0\.1.*allowPrivateRedirects/);
      assert.equal(up.count((q) => q.origin === 'cdn'), 0);
      assert.equal(blobGets(up, digest), 1, 'a refused redirect is not retried');
    });
  }

  test('allowPrivateRedirects lets that upstream follow the same redirect', async () => {
    up.faults.redirectBlobsTo = up.cdnUrl;
    const r = await get(mirror.url, `/v2/library/alpine/blobs/${digest}`, { headers: { host: 'allowed.test' } });
    assert.equal(r.status, 200);
    assert.ok(r.body.equals(blob));
    assert.equal(up.count((q) => q.origin === 'cdn'), 1);
  });

  test('an upstream that is itself on a private address follows redirects to private addresses', async () => {
    up.faults.redirectBlobsTo = up.cdnUrl;
    const r = await get(mirror.url, `/v2/library/alpine/blobs/${digest}`, { headers: { host: 'private.test' } });
    assert.equal(r.status, 200);
    assert.ok(r.body.equals(blob));
  });
});

describe('failover from a regional mirror to the origin', () => {
  let regional: FakeUpstream;
  let origin: FakeUpstream;
  let mirror: TestMirror;

  before(async () => {
    regional = await new FakeUpstream({ auth: true }).start();
    origin = await new FakeUpstream({ auth: true, users: { puller: 'origin-secret' } }).start();
    mirror = await startMirror({
      upstreams: [
        {
          name: 'hub',
          registry: 'docker.io',
          default: true,
          url: origin.url,
          mirrors: [regional.url],
          auth: { username: 'puller', password: 'origin-secret' },
          retries: { attempts: 1 },
          circuit: { failures: 2, openFor: '10m' },
        },
      ],
    });
  });
  after(async () => {
    await mirror.close();
    await regional.stop();
    await origin.stop();
  });
  beforeEach(() => {
    regional.reset();
    origin.reset();
  });

  test('a regional mirror that has the image serves it; the origin is not asked; the origin\'s credentials never reach the mirror', async () => {
    const layer = randomBytes(5000);
    const m = regional.addImage('library/both', '1', [layer]);
    origin.addImage('library/both', '1', [layer]);
    const r = await get(mirror.url, '/v2/library/both/manifests/1');
    assert.equal(r.status, 200);
    assert.equal(r.headers['docker-content-digest'], m.digest);
    assert.equal(origin.count(), 0);
    assert.ok(regional.count((q) => q.path === '/token') >= 1, 'the mirror URL\'s own challenge got its own token');
    assert.equal(regional.count((q) => String(q.headers.authorization ?? '').startsWith('Basic')), 0);
  });

  test('a regional mirror that lacks a tag sends the request to the origin, and that is not a failure', async () => {
    const only = origin.addImage('library/origin-only', '1', [randomBytes(300)]);
    const r = await get(mirror.url, '/v2/library/origin-only/manifests/1');
    assert.equal(r.status, 200);
    assert.equal(r.headers['docker-content-digest'], only.digest);
    assert.ok(regional.count((q) => q.path.includes('/manifests/')) >= 1, 'the regional mirror was asked first');
    assert.equal(endpoints(mirror)[0]?.failures, 0);
  });

  test('a failing regional mirror fails over to the origin with the right bytes, then its circuit opens and it is skipped', async () => {
    const layer = randomBytes(70_000);
    const m = origin.addImage('library/failover', '1', [layer]);
    const m2 = origin.addImage('library/failover', '2', [randomBytes(10)]);
    regional.addImage('library/failover', '1', [layer]);
    regional.faults.serverError = 503;
    for (const [tag, want] of [['1', m], ['2', m2]] as const) {
      const r = await get(mirror.url, `/v2/library/failover/manifests/${tag}`);
      assert.equal(r.status, 200);
      assert.ok(r.body.equals(want.bytes));
    }
    const layerDigest = (JSON.parse(m.bytes.toString()) as { layers: Array<{ digest: string }> }).layers[0]!.digest;
    assert.deepEqual(
      endpoints(mirror).map((e) => [e.role, e.circuit]),
      [
        ['mirror', 'open'],
        ['origin', 'closed'],
      ],
    );
    const before = regional.count();
    const b = await download(`${mirror.url}/v2/library/failover/blobs/${layerDigest}`);
    assert.ok(b.body.equals(layer));
    assert.equal(regional.count(), before, 'an open circuit is not dialled');
    assert.ok(mirror.logs.some((l) => l.includes('"circuit":"open"') && l.includes(regional.url)), 'the transition is logged');
  });
});

describe('the circuit breaker of an upstream', () => {
  let up: FakeUpstream;
  let mirror: TestMirror;
  let admin: AdminClient;
  let now = Date.now();
  const password = 'circuit-admin-password';

  before(async () => {
    up = await new FakeUpstream().start();
    mirror = await startMirror(
      {
        listen: { admin: '127.0.0.1:0' },
        upstreams: [{ name: 'hub', registry: 'docker.io', url: up.url, default: true, tagTtl: '1m', retries: { attempts: 1 }, circuit: { failures: 3, openFor: '30s' } }],
      },
      { clock: () => now, adminPassword: password },
    );
    admin = new AdminClient(mirror.adminUrl ?? '');
    assert.equal((await admin.login(password)).status, 200);
  });
  after(async () => {
    await mirror.close();
    await up.stop();
  });

  const circuit = async () => {
    const res = await admin.call<{ upstreams: Array<{ name: string; health: { circuit: string; urls?: EndpointView[] } }> }>('GET', '/api/upstreams');
    return res.body.upstreams.find((u) => u.name === 'hub')?.health;
  };

  test('opens after N failures, answers at once from the cache without dialling, shows open in the admin API, and one probe closes it', async () => {
    const image = up.addImage('library/alpine', 'cached', [randomBytes(100)]);
    assert.equal((await get(mirror.url, '/v2/library/alpine/manifests/cached')).status, 200);
    assert.equal((await circuit())?.circuit, 'closed');
    now += 61_000; // the cached tag is now stale

    up.faults.serverError = 503;
    for (let i = 0; i < 3; i++) assert.equal((await get(mirror.url, `/v2/library/alpine/manifests/miss-${i}`)).status, 503);
    const health = await circuit();
    assert.equal(health?.circuit, 'open');
    assert.equal(health?.urls?.[0]?.failures, 3);

    up.requests.length = 0;
    const refused = await get(mirror.url, '/v2/library/alpine/manifests/miss-3');
    assert.equal(refused.status, 503);
    assert.equal(errorCode(refused), 'UNAVAILABLE');
    assert.match(refused.body.toString(), /circuit open after 3 consecutive failures \(last: HTTP 503\)/);
    now += 29_999; // the circuit is still open (29.999 s of 30 s)
    const stale = await get(mirror.url, '/v2/library/alpine/manifests/cached');
    assert.equal(stale.status, 200);
    assert.equal(stale.headers['docker-content-digest'], image.digest);
    assert.equal(up.count(), 0, 'nothing reached the upstream while the circuit was open');

    now += 1;
    assert.equal((await circuit())?.circuit, 'half-open');
    up.faults = {};
    const probe = await get(mirror.url, '/v2/library/alpine/manifests/cached');
    assert.equal(probe.status, 200);
    assert.equal(up.count(), 1, 'one probe');
    assert.equal((await circuit())?.circuit, 'closed');
  });
});
