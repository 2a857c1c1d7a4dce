// The metrics endpoint shows the counters moving after a real pull (docs/operating.md, "Metrics"): real skopeo copies
// an image through the mirror from a real docker-registry (token auth, blobs redirected to a CDN host). /metrics is
// scraped from the mirror's admin listener. Figures are compared with the ground truth the upstream side records: the
// CDN's bytes sent, the token server's requests.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { assertInstalled } from '../support/installed-tools.js';
import { adminMetrics, total, type MetricsEndpoint } from '../support/prometheus-text.js';
import { startPullThroughSetup, type PullThroughSetup } from '../support/pull-through-setup.js';
import { skopeo } from '../support/skopeo.js';

const requiredPrograms = ['docker-registry', 'skopeo', 'openssl'];
const slow = { timeout: 120_000 };

test('docker-registry, skopeo and openssl are installed for the metrics e2e test', () => assertInstalled(...requiredPrograms));

describe('metrics after a real pull', () => {
  let s: PullThroughSetup;
  let endpoint: MetricsEndpoint;

  before(async () => {
    await assertInstalled(...requiredPrograms);
    s = await startPullThroughSetup();
    // Scraped where operators scrape it: the admin listener's /metrics.
    endpoint = adminMetrics(s.mirror.adminUrl ?? '');
  }, { timeout: 180_000 });
  after(async () => {
    await endpoint?.close();
    await s?.stop();
  });

  const scrape = async () => {
    for (let i = 0; i < 500 && s.mirror.app.services.fills.size > 0; i++) await new Promise((r) => setTimeout(r, 10));
    await new Promise((r) => setTimeout(r, 100));
    return (await endpoint.scrape()).samples;
  };

  test('skopeo copy through the corp host moves requests, bytes, tokens, redirects and latency; a second copy counts HITs', slow, async () => {
    await s.coldCache();
    const { app } = s.fixtures;
    const corp = { upstream: 'corp' };
    const before = await scrape();
    s.mark();
    const ref = `docker://${s.at('corp')}/team/app:1.0`;
    await skopeo(['copy', '--quiet', '--src-no-creds', '--src-cert-dir', s.reg.ca.certDir, ref, `oci:${join(s.work, 'cold')}:1.0`]);
    const cold = await scrape();
    const moved = (name: string, labels: Record<string, string> = {}) => total(cold, name, labels) - total(before, name, labels);

    const layerBytes = app.layers.reduce((sum, l) => sum + l.size, 0);
    assert.equal(moved('pullgate_requests_total', { ...corp, kind: 'manifest', method: 'GET', status: '200', cache: 'MISS' }), 1);
    assert.ok(moved('pullgate_requests_total', { ...corp, kind: 'blob', method: 'GET', status: '200', cache: 'MISS' }) >= app.layers.length);
    assert.ok(moved('pullgate_served_bytes_total', { ...corp, kind: 'blob' }) >= layerBytes);
    // Every blob byte fetched came from the CDN host; manifests come from the registry itself.
    assert.equal(moved('pullgate_upstream_fetched_bytes_total', corp) - app.raw.length, s.reg.cdn.bytesSent());
    assert.equal(moved('pullgate_upstream_redirects_total', corp), s.reg.cdn.requests.length);
    assert.ok(moved('pullgate_upstream_token_fetches_total', { ...corp, result: 'ok' }) >= 1);
    assert.equal(moved('pullgate_upstream_token_fetches_total', corp), s.reg.tokenServer.requests.length);
    assert.ok(moved('pullgate_upstream_request_duration_seconds_count', corp) >= 1 + app.layers.length);
    assert.ok(total(cold, 'pullgate_cache_entries', { kind: 'blob' }) >= app.layers.length);
    assert.ok(total(cold, 'pullgate_cache_size_bytes', { kind: 'blob' }) >= layerBytes);

    s.mark();
    await skopeo(['copy', '--quiet', '--src-no-creds', '--src-cert-dir', s.reg.ca.certDir, ref, `oci:${join(s.work, 'warm')}:1.0`]);
    const warm = await scrape();
    const again = (name: string, labels: Record<string, string> = {}) => total(warm, name, labels) - total(cold, name, labels);
    assert.ok(again('pullgate_requests_total', { ...corp, kind: 'blob', cache: 'HIT' }) >= app.layers.length);
    assert.equal(again('pullgate_requests_total', { ...corp, kind: 'blob', cache: 'MISS' }), 0);
    assert.equal(s.reg.cdn.requests.length, 0, 'the warm copy fetched no blob');
    assert.equal(again('pullgate_upstream_redirects_total', corp), 0);
    assert.ok(again('pullgate_served_bytes_total', { ...corp, kind: 'blob' }) >= layerBytes);
  });
});
