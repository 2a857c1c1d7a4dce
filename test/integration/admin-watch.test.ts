// Watch lists through the admin API (docs/watch.md), over real sockets against an in-process fake registry: the
// config file's entries are listed read-only, entries added here are checked with the config file's schema (field
// errors by name), stored, and run by the scheduler at its next tick; "run now" answers with what changed; a moved
// tag, a failed run and a run the quota governor held back reach the activity feed and the metrics; the held-back
// counts reach the upstream's view; every change is in the audit log. The clock is injected; nothing sleeps.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import type { Timer } from '../../src/watch/watch-scheduler.js';
import { AdminClient } from '../support/admin-client.js';
import { FakeUpstream } from '../support/fake/fake-upstream.js';
import { startMirror, type TestMirror } from '../support/mirror-app.js';
import { adminMetrics, total } from '../support/prometheus-text.js';

const password = 'admin-password-for-tests';
const hour = 3600_000;
/** A timer that never fires by itself: the test moves the clock and calls tick(). */
const manualTimer: Timer = { set: () => undefined, clear: () => undefined };

interface TagState {
  tag: string;
  digest: string | null;
  changedAt: number | null;
  bytesFetched: number;
  error: string | null;
}
interface EntryView {
  id: string;
  upstream: string;
  repository: string;
  source: 'config' | 'admin';
  everyMs?: number;
  cron?: string;
  jitterMs: number;
  keep: number;
  nextRun: number;
  lastRun: { result: string; changed: number; bytes: number; message: string | null } | null;
  tagStates: TagState[];
}
interface WatchList {
  entries: EntryView[];
  quotas: Array<{ upstream: string; remaining?: number; limit?: number; reserve: number; heldBack: { watch: number; live: number } }>;
}
interface RunAnswer {
  result: string;
  changed: number;
  bytes: number;
  message?: string;
  entry: EntryView;
}
interface WatchEventView {
  type: string;
  entry: string;
  tag?: string;
  from?: string;
  to?: string;
  message?: string;
}

describe('watch lists through the admin API', () => {
  let hub: FakeUpstream;
  let mirror: TestMirror;
  let admin: AdminClient;
  let now = Date.UTC(2026, 11, 7, 8, 30);
  const configEntry = 'hub/library/alpine:3.20';
  const adminEntry = 'hub/team/app:1.0';
  const path = (id: string) => `/api/watch/${encodeURIComponent(id)}`;
  const list = async () => (await admin.call<WatchList>('GET', '/api/watch')).body;
  const entryOf = async (id: string) => (await list()).entries.find((e) => e.id === id);
  const events = async () => (await admin.call<{ watch: WatchEventView[] }>('GET', '/api/activity')).body.watch;

  before(async () => {
    hub = await new FakeUpstream().start();
    hub.addImage('library/alpine', '3.20', [randomBytes(3000)]);
    hub.addImage('team/app', '1.0', [randomBytes(4000), randomBytes(5000)]);
    mirror = await startMirror(
      {
        listen: { admin: '127.0.0.1:0' },
        upstreams: [{ name: 'hub', registry: 'docker.io', url: hub.url, default: true, quota: { reserve: 20 }, watch: [{ repository: 'library/alpine', tags: ['3.20'], every: '1h' }] }],
      },
      { adminPassword: password, clock: () => now, watchTimer: manualTimer },
    );
    admin = new AdminClient(mirror.adminUrl ?? '');
    assert.equal((await admin.login(password)).status, 200);
  });

  after(async () => {
    await mirror?.close();
    await hub?.stop();
  });

  test('the config file\'s entry is listed read-only with its schedule; no run yet', async () => {
    const w = await list();
    assert.deepEqual(w.entries.map((e) => [e.id, e.source]), [[configEntry, 'config']]);
    const e = w.entries[0];
    assert.equal(e?.everyMs, hour);
    assert.equal(e?.nextRun, Date.UTC(2026, 11, 7, 9, 0));
    assert.equal(e?.lastRun, null);
    assert.deepEqual(e?.tagStates, []);
    const del = await admin.call<{ error: string }>('DELETE', path(configEntry));
    assert.equal(del.status, 409);
    assert.equal(del.body.error, 'READ_ONLY');
  });

  test('a bad entry is refused with field errors named as in the config file', async () => {
    const bad = async (body: Record<string, unknown>) => {
      const res = await admin.call<{ error: string; fields: Array<{ path: string; message: string }> }>('POST', '/api/watch', body);
      assert.equal(res.status, 400, res.text);
      assert.equal(res.body.error, 'VALIDATION');
      return res.body.fields;
    };
    assert.deepEqual((await bad({ upstream: 'hub', repository: 'Team/App', every: '6h' })).map((f) => f.path), ['repository']);
    assert.deepEqual((await bad({ upstream: 'hub', repository: 'team/app', every: '5s' })).map((f) => f.path), ['every']);
    assert.deepEqual((await bad({ upstream: 'hub', repository: 'team/app', cron: 'not a cron' })).map((f) => f.path), ['cron']);
    assert.deepEqual((await bad({ upstream: 'hub', repository: 'team/app', tags: ['1.0 beta'], every: '6h' })).map((f) => f.path), ['tags.0']);
    assert.deepEqual((await bad({ upstream: 'hub', repository: 'team/app', every: '6h', colour: 'red' })).map((f) => f.path), ['']);
    assert.match((await bad({ upstream: 'hub', repository: 'team/app' }))[0]?.message ?? '', /every or cron/);
    assert.deepEqual((await bad({ upstream: 'nowhere', repository: 'team/app', every: '6h' })).map((f) => f.path), ['upstream']);
    const taken = await admin.call<{ error: string }>('POST', '/api/watch', { upstream: 'hub', repository: 'library/alpine', tags: ['3.20'], every: '2h' });
    assert.equal(taken.status, 409);
    assert.equal(taken.body.error, 'CONFLICT');
    assert.equal((await list()).entries.length, 1, 'nothing was stored');
  });

  test('an added entry is stored, listed with its next run, and run by the scheduler at its time', async () => {
    const added = await admin.call<EntryView>('POST', '/api/watch', { upstream: 'hub', repository: 'team/app', tags: ['1.0'], every: '6h', keep: 2 });
    assert.equal(added.status, 201, added.text);
    assert.equal(added.body.id, adminEntry);
    assert.equal(added.body.source, 'admin');
    assert.equal(added.body.keep, 2);
    assert.equal(added.body.nextRun, Date.UTC(2026, 11, 7, 12, 0));
    assert.equal((await admin.call('POST', '/api/watch', { upstream: 'hub', repository: 'team/app', tags: ['1.0'], every: '6h' })).status, 409);
    assert.deepEqual((await list()).entries.map((e) => [e.id, e.source]), [[configEntry, 'config'], [adminEntry, 'admin']]);

    // The scheduler reads the admin's entries at its tick: at 12:00 both are due and both run.
    now = Date.UTC(2026, 11, 7, 12, 0);
    await mirror.app.watch.scheduler.tick();
    const e = await entryOf(adminEntry);
    assert.equal(e?.lastRun?.result, 'ok');
    assert.equal(e?.tagStates[0]?.tag, '1.0');
    assert.equal(e?.tagStates[0]?.digest, hub.manifests.get('team/app')?.get('1.0')?.digest);
    assert.equal(e?.tagStates[0]?.changedAt, now);
    assert.ok((e?.tagStates[0]?.bytesFetched ?? 0) >= 9000);
    assert.equal((await entryOf(configEntry))?.lastRun?.result, 'ok');
  });

  test('"run now" answers with what moved; the move is in the activity feed and the metrics', async () => {
    const old = hub.manifests.get('team/app')?.get('1.0')?.digest;
    const moved = hub.addImage('team/app', '1.0', [randomBytes(6000)]);
    now += 60_000;
    const run = await admin.call<RunAnswer>('POST', `${path(adminEntry)}/run`);
    assert.equal(run.status, 200, run.text);
    assert.equal(run.body.result, 'ok');
    assert.equal(run.body.changed, 1);
    assert.ok(run.body.bytes >= 6000);
    assert.equal(run.body.entry.tagStates[0]?.digest, moved.digest);
    assert.equal(run.body.entry.tagStates[0]?.changedAt, now);
    const ev = (await events()).find((x) => x.type === 'tag-moved' && x.entry === adminEntry && x.to === moved.digest);
    assert.ok(ev, 'the move is in the activity feed');
    assert.equal(ev.from, old);
    assert.equal(ev.tag, '1.0');

    // Unchanged: a second run moves nothing.
    const again = await admin.call<RunAnswer>('POST', `${path(adminEntry)}/run`);
    assert.equal(again.body.changed, 0);

    const m = (await adminMetrics(mirror.adminUrl ?? '').scrape()).samples;
    assert.equal(total(m, 'pullgate_watch_runs_total', { upstream: 'hub', result: 'ok' }), 4);
    // The first runs of both entries and this move.
    assert.equal(total(m, 'pullgate_watch_tags_moved_total', { upstream: 'hub' }), 3);
    assert.equal((await admin.call('POST', `${path('hub/nothing:1')}/run`)).status, 404);
  });

  test('a run that fails is reported as failed, in the feed and the metrics, with the tag\'s error', async () => {
    const added = await admin.call<EntryView>('POST', '/api/watch', { upstream: 'hub', repository: 'team/gone', tags: ['1'], every: '1d' });
    assert.equal(added.status, 201, added.text);
    const run = await admin.call<RunAnswer>('POST', `${path('hub/team/gone:1')}/run`);
    assert.equal(run.body.result, 'failed');
    assert.match(run.body.message ?? '', /^1: /);
    assert.ok(run.body.entry.tagStates[0]?.error);
    assert.ok((await events()).some((x) => x.type === 'run-failed' && x.entry === 'hub/team/gone:1'));
    const m = (await adminMetrics(mirror.adminUrl ?? '').scrape()).samples;
    assert.equal(total(m, 'pullgate_watch_runs_total', { upstream: 'hub', result: 'failed' }), 1);
    assert.equal((await admin.call('DELETE', path('hub/team/gone:1'))).status, 204);
  });

  test('under the reserve a run is held back: the feed, the metrics, the quota and the upstream view say so', async () => {
    hub.faults = { rateLimitHeaders: { limit: '100;w=21600', remaining: '5;w=21600' } };
    hub.addImage('team/app', '1.0', [randomBytes(7000)]);
    now += 60_000;
    const run = await admin.call<RunAnswer>('POST', `${path(adminEntry)}/run`);
    assert.equal(run.body.result, 'held', run.text);
    assert.match(run.body.message ?? '', /below the reserve/);
    assert.ok((await events()).some((x) => x.type === 'run-held' && x.entry === adminEntry));
    const quota = (await list()).quotas.find((q) => q.upstream === 'hub');
    assert.equal(quota?.remaining, 5);
    assert.equal(quota?.limit, 100);
    assert.equal(quota?.reserve, 20);
    assert.ok((quota?.heldBack.watch ?? 0) >= 1);
    const up = (await admin.call<{ upstreams: Array<{ name: string; quota: { reserve: number; heldBack: { watch: number } } }> }>('GET', '/api/upstreams')).body.upstreams.find((u) => u.name === 'hub');
    assert.equal(up?.quota.reserve, 20);
    assert.equal(up?.quota.heldBack.watch, quota?.heldBack.watch);
    const m = (await adminMetrics(mirror.adminUrl ?? '').scrape()).samples;
    assert.equal(total(m, 'pullgate_watch_runs_total', { upstream: 'hub', result: 'held' }), 1);
    assert.equal(total(m, 'pullgate_quota_held_back_total', { upstream: 'hub', kind: 'watch' }), quota?.heldBack.watch);
    hub.faults = {};
  });

  test('"run now" of an entry that is running is refused as a conflict; the first run finishes', async () => {
    // Past the quota's window: the low figure of the test before no longer holds runs back.
    now += 6 * hour + 60_000;
    hub.faults = { headerDelayMs: 500 };
    try {
      const first = admin.call<RunAnswer>('POST', `${path(adminEntry)}/run`);
      await new Promise((r) => setTimeout(r, 100));
      const second = await admin.call<{ error: string; message: string }>('POST', `${path(adminEntry)}/run`);
      assert.equal(second.status, 409, second.text);
      assert.equal(second.body.error, 'CONFLICT');
      assert.match(second.body.message, /running now/);
      assert.equal((await first).status, 200);
    } finally {
      hub.faults = {};
    }
  });

  test('removing an admin entry stops it; the audit log has each change', async () => {
    assert.equal((await admin.call('DELETE', path(adminEntry))).status, 204);
    assert.deepEqual((await list()).entries.map((e) => e.id), [configEntry]);
    assert.equal((await admin.call<{ error: string }>('DELETE', path(adminEntry))).body.error, 'NOT_FOUND');
    type Entry = { action: string; target: string; outcome: string };
    const audit = (await admin.call<{ entries: Entry[] }>('GET', '/api/audit?limit=50')).body.entries;
    const pick = (e: Entry) => `${e.action} ${e.outcome}`;
    const actions = audit.map(pick);
    assert.ok(actions.includes('POST /api/watch ok'), actions.join('\n'));
    assert.ok(actions.includes('DELETE /api/watch/:id ok'), actions.join('\n'));
    assert.ok(actions.includes('POST /api/watch/:id/run ok'), actions.join('\n'));
    assert.ok(actions.includes('POST /api/watch VALIDATION'), actions.join('\n'));
  });
});
