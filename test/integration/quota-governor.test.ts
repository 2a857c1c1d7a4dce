// The quota governor against an upstream that answers like Docker Hub (docs/watch.md): `ratelimit-remaining`
// headers and 429s. Watch runs keep the reserve for live clients, a 429 pauses them until Retry-After, they
// resume after it; a live tag revalidation under a low quota serves the cached tag (STALE) rather than spend a
// pull; live pulls never wait on background work. Time is an injected clock.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { FakeUpstream } from '../support/fake/fake-upstream.js';
import { get } from '../support/fake/mirror-over-fake.js';
import { startMirror, type TestMirror } from '../support/mirror-app.js';
import { until } from '../support/until.js';
import type { Timer } from '../../src/watch/watch-scheduler.js';

const manualTimer: Timer = { set: () => undefined, clear: () => undefined };
const accept = { accept: 'application/vnd.oci.image.index.v1+json, application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.list.v2+json, application/vnd.docker.distribution.manifest.v2+json' };
const entry = 'hub/team/app:1.0';

describe('the quota governor with Docker Hub rate-limit answers', () => {
  let up: FakeUpstream;
  let mirror: TestMirror;
  let now = Date.UTC(2026, 11, 7, 10, 0);
  const manifestGets = () => up.requests.filter((r) => r.method === 'GET' && r.path.includes('/manifests/')).length;
  const lines = (from: number) => mirror.logs.slice(from).map((l) => JSON.parse(l) as Record<string, unknown>).filter((l) => l['msg'] === 'request');

  let reserve = 10;
  const config = () => ({
    upstreams: [{ name: 'hub', registry: 'docker.io', url: up.url, default: true, tagTtl: '1m', quota: { reserve }, watch: [{ repository: 'team/app', tags: ['1.0'], every: '1h' }] }],
  });

  before(async () => {
    up = await new FakeUpstream().start();
    up.addImage('team/app', '1.0', [randomBytes(1024)]);
    mirror = await startMirror(config(), { clock: () => now, watchTimer: manualTimer, reloadWith: config });
  });

  after(async () => {
    await mirror?.close();
    await up?.stop();
  });

  test('above the reserve a run goes ahead; at the reserve it is held back and says why', async () => {
    up.faults.rateLimitHeaders = { limit: '100;w=21600', remaining: '50;w=21600' };
    const ok = await mirror.app.watch.scheduler.runNow(entry);
    assert.equal(ok.result, 'ok', ok.message);
    assert.equal(mirror.app.watch.governor.view('hub').remaining, 50);
    // The tag moves upstream, and the upstream's figure drops to the reserve.
    up.addImage('team/app', '1.0', [randomBytes(1024)]);
    up.faults.rateLimitHeaders = { limit: '100;w=21600', remaining: '10;w=21600' };
    const gets = manifestGets();
    const held = await mirror.app.watch.scheduler.runNow(entry);
    assert.equal(held.result, 'held');
    assert.match(held.message ?? '', /1\.0 moved to sha256:[a-f0-9]{64}; the upstream quota is below the reserve/);
    assert.equal(manifestGets(), gets, 'the free HEAD told it; no manifest GET was spent');
    assert.equal(mirror.app.watch.governor.view('hub').heldBack.watch, 1);
    const before = up.requests.length;
    assert.equal((await mirror.app.watch.scheduler.runNow(entry)).result, 'held');
    assert.equal(up.requests.length, before, 'below the reserve, the next run asks the upstream nothing');
  });

  test('under a low quota a live revalidation of a moved tag serves the cached image as STALE, without a manifest GET', async () => {
    now += 2 * 60_000; // past tagTtl: the next pull revalidates
    const gets = manifestGets();
    const from = mirror.logs.length;
    const r = await get(mirror.url, '/v2/team/app/manifests/1.0', { headers: accept });
    assert.equal(r.status, 200);
    const [line] = await until(async () => (lines(from).length > 0 ? lines(from) : undefined), 5_000, 10);
    assert.equal(line?.['cache'], 'STALE');
    assert.equal(manifestGets(), gets, 'the HEAD said the tag moved; no GET was spent');
    assert.equal(mirror.app.watch.governor.view('hub').heldBack.live, 1);
  });

  test('a 429 pauses background work until Retry-After; the run after it goes ahead', async () => {
    // The window passes: the figure of 10 left says nothing any more.
    now += 21_600_000;
    up.faults.rateLimitHeaders = { limit: '100;w=21600', remaining: '90;w=21600' };
    up.faults.rateLimitedTimes = 1;
    up.faults.rateLimited = '120';
    const refused = await mirror.app.watch.scheduler.runNow(entry);
    assert.equal(refused.result, 'held');
    assert.match(refused.message ?? '', /the upstream refused with 429/);
    const paused = mirror.app.watch.governor.view('hub').pausedUntil;
    assert.equal(paused, now + 120_000);
    const before = up.requests.length;
    const during = await mirror.app.watch.scheduler.runNow(entry);
    assert.equal(during.result, 'held');
    assert.match(during.message ?? '', /paused after a 429 until/);
    assert.equal(up.requests.length, before);
    now += 120_000;
    const resumed = await mirror.app.watch.scheduler.runNow(entry);
    assert.equal(resumed.result, 'ok', resumed.message);
    assert.equal(resumed.changed, 1, 'the tag moved while paused: the run after the pause fetched it');
  });

  test("a live pull answered 429 pauses background work too, until the upstream's Retry-After", async () => {
    up.faults.headerDelayMs = 0;
    up.faults.rateLimitedTimes = 1;
    up.faults.rateLimited = '300';
    const refused = await get(mirror.url, '/v2/team/never-pulled/manifests/1.0', { headers: accept });
    assert.equal(refused.status, 429);
    assert.equal(mirror.app.watch.governor.view('hub').pausedUntil, now + 300_000);
    const held = await mirror.app.watch.scheduler.runNow(entry);
    assert.equal(held.result, 'held');
    assert.match(held.message ?? '', /paused after a 429/);
    now += 300_000;
  });

  test('live pulls never wait on background work: a pull completes while a run is stuck on a slow upstream', async () => {
    up.addImage('team/app', '1.0', [randomBytes(1024)]);
    up.faults.headerDelayMs = 2_000;
    const heads = up.requests.filter((q) => q.method === 'HEAD').length;
    let runDone = false;
    const run = mirror.app.watch.scheduler.runNow(entry).finally(() => (runDone = true));
    // The run's HEAD has reached the upstream, which holds its answer.
    await until(async () => (up.requests.filter((q) => q.method === 'HEAD').length > heads ? true : undefined), 5_000, 10);
    up.faults.headerDelayMs = 0;
    // A pull by digest of the cached image needs nothing upstream.
    const [row] = mirror.app.watch.state.tags(entry);
    const r = await get(mirror.url, `/v2/team/app/manifests/${row?.digest ?? ''}`, { headers: accept });
    assert.equal(r.status, 200);
    assert.equal(runDone, false, 'the live pull was answered while the run still waited on the upstream');
    await run;
  });

  test('a config reload that changes the reserve applies it to the next check', async () => {
    assert.equal(mirror.app.watch.governor.view('hub').reserve, 10);
    reserve = 30;
    try {
      const result = await mirror.app.reloadConfig();
      assert.ok(JSON.stringify(result).includes('upstreams'), JSON.stringify(result));
      assert.equal(mirror.app.watch.governor.view('hub').reserve, 30);
    } finally {
      reserve = 10;
      await mirror.app.reloadConfig();
    }
  });
});
