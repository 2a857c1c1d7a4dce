// Prometheus metrics (docs/operating.md, "Metrics"): counters move where the facts are born. A mirror over the fake
// upstream (bearer auth, CDN redirects, rate-limit headers) is scraped through a loopback listener that registers
// /metrics the way the admin listener will; the registry listener itself never serves /metrics.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { request } from 'undici';
import { createApp, type App } from '../../src/app/app.js';
import { configFromObject } from '../../src/config/load.js';
import { createLogger } from '../../src/logger.js';
import { fullManifestAccept } from '../../src/registry/media-types.js';
import { FakeUpstream, sha256 } from '../support/fake/fake-upstream.js';
import { get, mirrorOverFake, type Setup } from '../support/fake/mirror-over-fake.js';
import { serveMetrics, total, type MetricsEndpoint, type Sample } from '../support/prometheus-text.js';

const layer = randomBytes(300 * 1024);

describe('the /metrics endpoint', () => {
  let s: Setup;
  let endpoint: MetricsEndpoint;
  let manifestDigest: string;
  const hub = { upstream: 'hub' };

  before(async () => {
    s = await mirrorOverFake({ auth: true });
    manifestDigest = s.up.addImage('library/app', '1.0', [layer]).digest;
    endpoint = await serveMetrics(s.mirror.app);
  });
  after(async () => {
    await endpoint?.close();
    await s?.close();
  });

  const settled = async (): Promise<Sample[]> => {
    // Access lines (and their counters) are written when the server side of a response closes.
    for (let i = 0; i < 200 && s.mirror.app.services.fills.size > 0; i++) await new Promise((r) => setTimeout(r, 10));
    await new Promise((r) => setTimeout(r, 50));
    return (await endpoint.scrape()).samples;
  };

  test('a scrape answers in the Prometheus text format with process metrics and zeroed pull counters', async () => {
    const { contentType, samples } = await endpoint.scrape();
    assert.match(contentType, /^text\/plain; version=0\.0\.4/);
    assert.ok(total(samples, 'process_cpu_seconds_total') > 0);
    assert.ok(total(samples, 'process_resident_memory_bytes') > 0);
    assert.equal(total(samples, 'pullgate_requests_total'), 0);
    assert.equal(total(samples, 'pullgate_fills_in_flight'), 0);
    assert.equal(total(samples, 'pullgate_cache_entries', { kind: 'blob' }), 0);
  });

  test('a cold pull moves the MISS, bytes, token, redirect, rate-limit and latency series; a warm pull counts HITs only', async () => {
    s.up.faults = { redirectBlobs: 'absolute', rateLimitHeaders: { limit: '100;w=21600', remaining: '42;w=21600' } };
    const manifest = await get(s.mirror.url, '/v2/library/app/manifests/1.0', { headers: { accept: fullManifestAccept } });
    assert.equal(manifest.status, 200);
    const blob = await get(s.mirror.url, `/v2/library/app/blobs/${sha256(layer)}`);
    assert.ok(blob.body.equals(layer));
    const cold = await settled();

    assert.equal(total(cold, 'pullgate_requests_total', { ...hub, kind: 'manifest', method: 'GET', status: '200', cache: 'MISS' }), 1);
    assert.equal(total(cold, 'pullgate_requests_total', { ...hub, kind: 'blob', method: 'GET', status: '200', cache: 'MISS' }), 1);
    assert.equal(total(cold, 'pullgate_served_bytes_total', { ...hub, kind: 'blob' }), layer.length);
    assert.equal(total(cold, 'pullgate_served_bytes_total', { ...hub, kind: 'manifest' }), manifest.body.length);
    assert.equal(total(cold, 'pullgate_upstream_fetched_bytes_total', hub), layer.length + manifest.body.length);
    assert.equal(total(cold, 'pullgate_upstream_token_fetches_total', { ...hub, result: 'ok' }), s.up.count((r) => r.path === '/token'));
    assert.ok(total(cold, 'pullgate_upstream_token_fetches_total', { ...hub, result: 'ok' }) >= 1);
    assert.equal(total(cold, 'pullgate_upstream_redirects_total', hub), s.up.count((r) => r.origin === 'cdn'));
    assert.equal(total(cold, 'pullgate_upstream_redirects_total', hub), 1);
    assert.equal(total(cold, 'pullgate_upstream_ratelimit_remaining', hub), 42);
    assert.equal(total(cold, 'pullgate_upstream_ratelimit_limit', hub), 100);
    // Every hop to the registry and the CDN is timed (the token endpoint is not an upstream request).
    const hops = s.up.count((r) => r.path !== '/token');
    assert.equal(total(cold, 'pullgate_upstream_request_duration_seconds_count', hub), hops);
    assert.ok(total(cold, 'pullgate_upstream_request_duration_seconds_sum', hub) > 0);
    assert.equal(total(cold, 'pullgate_cache_entries', { kind: 'blob' }), 1, 'the layer');
    assert.equal(total(cold, 'pullgate_cache_entries', { kind: 'manifest' }), 1);
    assert.equal(total(cold, 'pullgate_cache_size_bytes', { kind: 'blob' }), layer.length);
    assert.equal(total(cold, 'pullgate_cache_size_bytes', { kind: 'manifest' }), manifest.body.length);

    const upstreamBefore = s.up.count();
    await get(s.mirror.url, `/v2/library/app/manifests/${manifestDigest}`, { headers: { accept: fullManifestAccept } });
    await get(s.mirror.url, `/v2/library/app/blobs/${sha256(layer)}`);
    const warm = await settled();
    assert.equal(s.up.count(), upstreamBefore, 'the warm pull never went upstream');
    assert.equal(total(warm, 'pullgate_requests_total', { ...hub, kind: 'manifest', cache: 'HIT' }), 1);
    assert.equal(total(warm, 'pullgate_requests_total', { ...hub, kind: 'blob', cache: 'HIT' }), 1);
    assert.equal(total(warm, 'pullgate_served_bytes_total', { ...hub, kind: 'blob' }), 2 * layer.length);
    assert.equal(total(warm, 'pullgate_upstream_fetched_bytes_total', hub), total(cold, 'pullgate_upstream_fetched_bytes_total', hub));
  });

  test('concurrent cold pulls of one blob count one MISS, the followers as COALESCED, and one fill in flight meanwhile', async () => {
    const slow = randomBytes(512 * 1024);
    s.up.addBlob(slow);
    s.up.faults = { blobChunkDelayMs: 40 };
    const url = `${s.mirror.url}/v2/library/app/blobs/${sha256(slow)}`;
    const first = await request(url);
    const during = (await endpoint.scrape()).samples;
    const followers = await Promise.all([request(url), request(url)]);
    const bodies = await Promise.all([first, ...followers].map(async (r) => Buffer.from(await r.body.arrayBuffer())));
    s.up.faults = {};
    for (const b of bodies) assert.ok(b.equals(slow));
    const after = await settled();
    assert.equal(total(during, 'pullgate_fills_in_flight'), 1);
    assert.equal(total(after, 'pullgate_fills_in_flight'), 0);
    const digestCounts = (cache: string) => total(after, 'pullgate_requests_total', { ...hub, kind: 'blob', cache });
    assert.equal(digestCounts('COALESCED'), 2);
    assert.equal(s.up.count((r) => r.path.endsWith(sha256(slow))), 1);
  });

  test('errors are counted with their status, and requests that name no upstream have an empty upstream label', async () => {
    const missing = await get(s.mirror.url, `/v2/library/app/blobs/sha256:${'0'.repeat(64)}`);
    assert.equal(missing.status, 404);
    const ping = await get(s.mirror.url, '/v2/');
    assert.equal(ping.status, 200);
    const samples = await settled();
    assert.equal(total(samples, 'pullgate_requests_total', { ...hub, kind: 'blob', status: '404' }), 1);
    assert.equal(total(samples, 'pullgate_requests_total', { upstream: '', kind: 'base', status: '200', cache: 'NONE' }), 1);
  });

  test('the registry listener answers /healthz and /readyz itself, never upstream, and does not serve /metrics', async () => {
    const before = s.up.count();
    const health = await get(s.mirror.url, '/healthz');
    assert.equal(health.status, 200);
    assert.deepEqual(JSON.parse(health.body.toString()), { status: 'ok' });
    const ready = await get(s.mirror.url, '/readyz');
    assert.equal(ready.status, 200, ready.body.toString());
    assert.deepEqual(JSON.parse(ready.body.toString()), {
      status: 'ready',
      checks: { database: 'ok', dataDir: 'ok', listeners: 'ok', shutdown: 'ok' },
    });
    const metrics = await get(s.mirror.url, '/metrics');
    assert.equal(metrics.status, 404);
    assert.equal((JSON.parse(metrics.body.toString()) as { errors: Array<{ code: string }> }).errors[0]?.code, 'NOT_FOUND');
    assert.equal(s.up.count(), before, 'no probe reached the upstream');
  });
});

describe('eviction metrics', () => {
  let up: FakeUpstream;
  let dataDir: string;
  let app: App;
  let endpoint: MetricsEndpoint;
  let maxSize = '1GiB';

  before(async () => {
    up = await new FakeUpstream().start();
    dataDir = await mkdtemp(join(tmpdir(), 'pullgate-evict-metrics-'));
    const load = () =>
      configFromObject({ dataDir, listen: { http: '127.0.0.1:0' }, cache: { maxSize }, upstreams: [{ name: 'hub', registry: 'docker.io', url: up.url, default: true }] }, dataDir);
    app = await createApp(await load(), { log: createLogger('silent'), loadConfig: load });
    await app.listen();
    endpoint = await serveMetrics(app);
  });
  after(async () => {
    await endpoint?.close();
    await app?.close();
    await up?.stop();
    if (dataDir) await rm(dataDir, { recursive: true, force: true });
  });

  test('a reload that lowers cache.maxSize evicts, and the eviction counters and cache gauges show it', async () => {
    const blobs = [randomBytes(100 * 1024), randomBytes(100 * 1024), randomBytes(100 * 1024)];
    const url = `http://127.0.0.1:${(app.http?.server.address() as AddressInfo).port}`;
    for (const b of blobs) {
      up.addBlob(b);
      assert.ok((await get(url, `/v2/library/data/blobs/${sha256(b)}`)).body.equals(b));
    }
    for (let i = 0; i < 200 && app.services.fills.size > 0; i++) await new Promise((r) => setTimeout(r, 10));
    const before = (await endpoint.scrape()).samples;
    assert.equal(total(before, 'pullgate_cache_entries', { kind: 'blob' }), 3);
    assert.equal(total(before, 'pullgate_cache_evictions_total'), 0);

    maxSize = '150KiB';
    const result = await app.reloadConfig();
    assert.deepEqual(result, { ok: true, applied: ['cache'], restartNeeded: [] });
    let samples = (await endpoint.scrape()).samples;
    for (let i = 0; i < 200 && total(samples, 'pullgate_cache_evictions_total') === 0; i++) {
      await new Promise((r) => setTimeout(r, 10));
      samples = (await endpoint.scrape()).samples;
    }
    // 300 KiB over a 150 KiB cap with the low-water mark at 90 %: two blobs go, one stays.
    assert.equal(total(samples, 'pullgate_cache_evictions_total'), 2);
    assert.equal(total(samples, 'pullgate_cache_evicted_bytes_total'), 200 * 1024);
    assert.equal(total(samples, 'pullgate_cache_eviction_runs_total'), 1);
    assert.equal(total(samples, 'pullgate_cache_entries', { kind: 'blob' }), 1);
    assert.equal(total(samples, 'pullgate_cache_size_bytes', { kind: 'blob' }), 100 * 1024);
  });
});
