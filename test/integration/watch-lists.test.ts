// Watch lists against a real docker-registry with CDN redirects (docs/watch.md): a run fetches a watched image
// ahead of the clients; when the tag moves upstream, the next run fetches exactly the new manifest and the blobs
// not yet cached (counted at the CDN, the ground truth of upstream bytes); a client pull right after is all HITs;
// a run and a client pull of the same new blob at once make one upstream fetch. Schedules run on an injected clock.
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { request } from 'undici';
import { pushFixtures, type Fixtures } from '../support/fixture-images.js';
import { assertInstalled } from '../support/installed-tools.js';
import { startMirror, type TestMirror } from '../support/mirror-app.js';
import { startRealRegistry, type RealRegistry } from '../support/real-registry.js';
import { registryPusher, type RegistryPusher } from '../support/registry-push.js';
import { until } from '../support/until.js';
import type { Timer } from '../../src/watch/watch-scheduler.js';

const hour = 3600_000;
const accept = 'application/vnd.oci.image.index.v1+json, application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.list.v2+json, application/vnd.docker.distribution.manifest.v2+json';
const sha256 = (b: Buffer): string => `sha256:${createHash('sha256').update(b).digest('hex')}`;

/** A timer that never fires by itself: the test moves the clock and calls tick(). */
const manualTimer: Timer = { set: () => undefined, clear: () => undefined };

describe('watch lists, real docker-registry', { timeout: 300_000 }, () => {
  let reg: RealRegistry;
  let fixtures: Fixtures;
  let mirror: TestMirror;
  let pusher: RegistryPusher;
  let now = Date.UTC(2026, 11, 7, 8, 30);
  const entry = 'hub/team/app:1.0';

  /** Pushes a new image to team/app:1.0 (moving the tag): one layer shared with the old image, `fresh` new ones. */
  async function moveTag(shared: { digest: string; size: number; mediaType: string }, fresh: Buffer[]): Promise<{ digest: string; newBlobs: string[] }> {
    const config = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [] }, created: new Date(now).toISOString() }));
    const newBlobs = [await pusher.blob('team/app', config)];
    const layers = [shared];
    for (const bytes of fresh) {
      newBlobs.push(await pusher.blob('team/app', bytes));
      layers.push({ digest: sha256(bytes), size: bytes.length, mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip' });
    }
    const manifest = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.manifest.v1+json', config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: sha256(config), size: config.length }, layers }));
    const digest = await pusher.manifest('team/app', '1.0', manifest, 'application/vnd.oci.image.manifest.v1+json');
    return { digest, newBlobs };
  }

  const cdnFetches = () => reg.cdn.requests.filter((r) => r.method === 'GET').map((r) => `sha256:${/\/([a-f0-9]{64})\/data/.exec(r.path)?.[1] ?? '?'}`);
  const get = async (path: string) => {
    const res = await request(`${mirror.url}${path}`, { headers: { accept } });
    const body = Buffer.from(await res.body.arrayBuffer());
    return { status: res.statusCode, body };
  };
  const accessSince = (from: number) => mirror.logs.slice(from).map((l) => JSON.parse(l) as Record<string, unknown>).filter((l) => l['msg'] === 'request');
  /** The access lines of `count` requests since `from`: a line is written when its response has finished. */
  const accessLines = (from: number, count: number) => until(async () => (accessSince(from).length >= count ? accessSince(from) : undefined), 5_000, 10);

  before(async () => {
    await assertInstalled('docker-registry', 'skopeo', 'openssl');
    reg = await startRealRegistry();
    fixtures = await pushFixtures(reg);
    pusher = await registryPusher(reg);
    mirror = await startMirror(
      { upstreams: [{ name: 'hub', registry: 'docker.io', url: reg.url, ca: reg.caFile, default: true, tagTtl: '1h', watch: [{ repository: 'team/app', tags: ['1.0'], every: '1h', keep: 2 }] }] },
      { clock: () => now, watchTimer: manualTimer },
    );
  });

  after(async () => {
    await mirror?.close();
    await pusher?.close();
    await reg?.stop();
  });

  test('nothing runs before the entry is due; at its time the run fetches the whole image, and a client pull after is all HITs', async () => {
    const scheduler = mirror.app.watch.scheduler;
    const [view] = scheduler.list();
    assert.equal(view?.entry.id, entry);
    assert.equal(view?.nextRun, Date.UTC(2026, 11, 7, 9, 0));
    reg.cdn.reset();
    await scheduler.tick();
    assert.equal(cdnFetches().length, 0, 'not due yet');
    now = Date.UTC(2026, 11, 7, 9, 0);
    await scheduler.tick();
    const layers = fixtures.app.layers.map((l) => l.digest);
    const manifest = JSON.parse(fixtures.app.raw.toString()) as { config: { digest: string } };
    assert.deepEqual(new Set(cdnFetches()), new Set([manifest.config.digest, ...layers]));
    const [tag] = mirror.app.watch.state.tags(entry);
    assert.equal(tag?.digest, fixtures.app.digest);
    assert.equal(tag?.error, null);
    const from = mirror.logs.length;
    reg.cdn.reset();
    const m = await get('/v2/team/app/manifests/1.0');
    assert.equal(m.status, 200);
    for (const d of [manifest.config.digest, ...layers]) assert.equal((await get(`/v2/team/app/blobs/${d}`)).status, 200);
    assert.deepEqual((await accessLines(from, 4)).map((l) => l['cache']), ['HIT', 'HIT', 'HIT', 'HIT']);
    assert.equal(cdnFetches().length, 0);
  });

  test('when the tag moves upstream, the next run fetches the new manifest and only the blobs not cached', async () => {
    const shared = fixtures.app.layers[0];
    assert.ok(shared);
    const moved = await moveTag({ digest: shared.digest, size: shared.size, mediaType: shared.mediaType }, [randomBytes(64 * 1024)]);
    reg.cdn.reset();
    now += hour;
    await mirror.app.watch.scheduler.tick();
    assert.deepEqual(new Set(cdnFetches()), new Set(moved.newBlobs), 'exactly the new config and layer, not the shared one');
    const [tag] = mirror.app.watch.state.tags(entry);
    assert.equal(tag?.digest, moved.digest);
    assert.equal(tag?.changedAt, now);
    const from = mirror.logs.length;
    const m = await get('/v2/team/app/manifests/1.0');
    assert.equal(sha256(m.body), moved.digest, 'clients get the new image, from the cache');
    assert.deepEqual((await accessLines(from, 1)).map((l) => l['cache']), ['HIT']);
  });

  test('a run and a client pull of the same new blob at once make one upstream fetch', async () => {
    const big = randomBytes(8 * 1024 * 1024);
    const moved = await moveTag(fixtures.app.layers[0] as never, [big]);
    reg.cdn.reset();
    now += hour;
    const bigDigest = sha256(big);
    const [run, client] = await Promise.all([
      mirror.app.watch.scheduler.runNow(entry),
      (async () => {
        // The client resolves the tag itself and fetches the big layer while the run does the same.
        const m = await get(`/v2/team/app/manifests/${moved.digest}`);
        assert.equal(m.status, 200);
        return get(`/v2/team/app/blobs/${bigDigest}`);
      })(),
    ]);
    assert.equal(run.result, 'ok', run.message);
    assert.equal(client.status, 200);
    assert.equal(sha256(client.body), bigDigest);
    assert.equal(cdnFetches().filter((d) => d === bigDigest).length, 1);
  });

  test('the last K digests of a watched tag are kept from eviction, older ones age out', () => {
    const history = mirror.app.watch.state.lastDigests('hub', 'team/app', '1.0', 10);
    assert.equal(history.length, 3, 'three images seen');
    const retained = mirror.app.watch.retained();
    assert.deepEqual(new Set(retained), new Set(history.slice(0, 2)), 'keep: 2');
    assert.ok(!retained.has(fixtures.app.digest));
  });

  test('runs are recorded with what changed', () => {
    const runs = mirror.app.watch.state.runs(entry);
    assert.deepEqual(runs.map((r) => [r.result, r.changed]), [['ok', 1], ['ok', 1], ['ok', 1]]);
    // The move with one new 64 KiB layer: that layer and a small config were fetched.
    const second = runs[1]?.bytes ?? 0;
    assert.ok(second >= 64 * 1024 && second < 64 * 1024 + 4096, `bytes of the second run: ${second}`);
  });
});
