import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { watchEntrySchema } from '../../../src/config/watch.js';
import { QuotaGovernor, parseQuotaHeader } from '../../../src/watch/quota-governor.js';
import { jitterOffset, nextRun } from '../../../src/watch/schedule.js';
import { byVersionDescending, selectTags } from '../../../src/watch/tag-selection.js';

const hour = 3600_000;

describe('tag selection', () => {
  it('keeps exact tags and adds the pattern matches, newest version first', () => {
    const available = ['22', '22.1', '22.11.0', '22.2.0', '22.11.0-alpine', '20.1', 'latest', '22-rc1'];
    assert.deepEqual(selectTags(['latest', '22*'], available, undefined).tags, ['latest', '22.11.0', '22.11.0-alpine', '22.2.0', '22.1', '22', '22-rc1']);
  });

  it('newest N takes that many matches by version, not by name', () => {
    assert.deepEqual(selectTags(['v*'], ['v1.9.0', 'v1.10.0', 'v1.2.0', 'v2.0.0-rc.1', 'v2.0.0'], 2).tags, ['v2.0.0', 'v2.0.0-rc.1']);
  });

  it("names in the upstream's list outside the tag grammar are never followed, however they match a pattern", () => {
    const hostile = ['v1.0', 'v1/../../../v2/other/manifests/x', 'v2?ns=evil', 'v3 ', 'v' + 'x'.repeat(200), '.v4', 'v5'];
    assert.deepEqual(selectTags(['v*'], hostile, undefined).tags, ['v5', 'v1.0']);
  });

  it('maxTags caps the pattern matches of a run: without newest the first N in the upstream\'s order, the rest counted as skipped', () => {
    const available = Array.from({ length: 3000 }, (_, i) => `v${i}.0.0`);
    const picked = selectTags(['latest', 'v*'], available, undefined, 50);
    assert.equal(picked.tags.length, 51);
    assert.equal(picked.tags[0], 'latest', 'an exact tag is always followed, outside the cap');
    assert.deepEqual(new Set(picked.tags.slice(1)), new Set(available.slice(0, 50)));
    assert.equal(picked.skipped, 2950);
  });

  it('maxTags defaults to 50 and takes 1 to 1000', () => {
    assert.equal(watchEntrySchema.parse({ repository: 'team/app', tags: ['v*'], every: '1h' }).maxTags, 50);
    assert.equal(watchEntrySchema.safeParse({ repository: 'team/app', tags: ['v*'], every: '1h', maxTags: 0 }).success, false);
    assert.equal(watchEntrySchema.safeParse({ repository: 'team/app', tags: ['v*'], every: '1h', maxTags: 1001 }).success, false);
  });

  it('maxTags with newest: the newest N by version, capped; what newest leaves out is not counted as skipped', () => {
    const available = ['v1.9.0', 'v1.10.0', 'v1.2.0', 'v2.0.0-rc.1', 'v2.0.0', 'v0.1.0'];
    assert.deepEqual(selectTags(['v*'], available, 4, 2), { tags: ['v2.0.0', 'v2.0.0-rc.1'], skipped: 2 });
    assert.deepEqual(selectTags(['v*'], available, 2, 50), { tags: ['v2.0.0', 'v2.0.0-rc.1'], skipped: 0 });
  });

  it('a tag without a version sorts after every versioned one', () => {
    assert.deepEqual(['nightly', 'v3', 'v10'].sort(byVersionDescending), ['v10', 'v3', 'nightly']);
  });
});

describe('schedules', () => {
  it('every interval: the next run is on the interval grid, strictly after now, the same on every mirror', () => {
    const at = Date.UTC(2026, 11, 7, 13, 20);
    assert.equal(nextRun('e', { every: 6 * hour }, at), Date.UTC(2026, 11, 7, 18, 0));
    assert.equal(nextRun('e', { every: 6 * hour }, Date.UTC(2026, 11, 7, 18, 0)), Date.UTC(2026, 11, 8, 0, 0));
  });

  it('jitter is a fixed offset below the jitter for each entry, so runs stay a whole interval apart', () => {
    const offset = jitterOffset('hub/library/node:22*', 10 * 60_000);
    assert.ok(offset >= 0 && offset < 10 * 60_000);
    assert.equal(jitterOffset('hub/library/node:22*', 10 * 60_000), offset);
    assert.notEqual(jitterOffset('hub/library/python:3*', 10 * 60_000), offset);
    const first = nextRun('hub/library/node:22*', { every: hour, jitter: 10 * 60_000 }, 0);
    assert.equal(first, offset);
    assert.equal(nextRun('hub/library/node:22*', { every: hour, jitter: 10 * 60_000 }, first), first + hour);
  });

  it('cron: the next time of the expression in UTC', () => {
    const monday = Date.UTC(2026, 11, 7, 7, 0);
    assert.equal(nextRun('e', { cron: '0 6 * * 1-5' }, monday), Date.UTC(2026, 11, 8, 6, 0));
    const friday = Date.UTC(2026, 11, 11, 7, 0);
    assert.equal(nextRun('e', { cron: '0 6 * * 1-5' }, friday), Date.UTC(2026, 11, 14, 6, 0));
  });
});

describe('the quota governor', () => {
  it("reads Docker Hub's headers, value and window", () => {
    assert.deepEqual(parseQuotaHeader('100;w=21600'), { value: 100, window: 21600 });
    assert.deepEqual(parseQuotaHeader('76'), { value: 76 });
    assert.equal(parseQuotaHeader('lots'), undefined);
  });

  it('background work runs above the reserve and is held back below it, counted', () => {
    const g = new QuotaGovernor(() => 20, () => 0);
    assert.equal(g.mayRunBackground('hub'), true, 'nothing announced: no limit known');
    g.observed('hub', { limit: '100;w=21600', remaining: '22;w=21600', at: 0 });
    assert.equal(g.mayRunBackground('hub'), true);
    g.observed('hub', { limit: '100;w=21600', remaining: '20;w=21600', at: 0 });
    assert.equal(g.mayRunBackground('hub'), false);
    assert.equal(g.view('hub').heldBack.watch, 1);
  });

  it('a 429 pauses background work until Retry-After, else for the announced window', () => {
    let now = 0;
    const g = new QuotaGovernor(() => 0, () => now);
    g.observed('hub', { limit: '100;w=600', remaining: '50;w=600', at: 0 });
    g.refused('hub');
    assert.equal(g.mayRunBackground('hub'), false);
    now = 599_000;
    assert.equal(g.mayRunBackground('hub'), false);
    now = 600_000;
    g.observed('hub', { limit: '100;w=600', remaining: '100;w=600', at: now });
    assert.equal(g.mayRunBackground('hub'), true);
    g.refused('hub', 5_000);
    now += 4_999;
    assert.equal(g.mayRunBackground('hub'), false);
    now += 1;
    g.observed('hub', { limit: '100;w=600', remaining: '99;w=600', at: now });
    assert.equal(g.mayRunBackground('hub'), true);
  });

  it('live revalidation conserves at or below the reserve, and says so', () => {
    const g = new QuotaGovernor(() => 10, () => 0);
    g.observed('hub', { remaining: '11', at: 0 });
    assert.equal(g.conserveLive('hub'), false);
    g.observed('hub', { remaining: '10', at: 0 });
    assert.equal(g.conserveLive('hub'), true);
    assert.equal(g.view('hub').heldBack.live, 1);
  });
});

describe('the quota governor over time', () => {
  it('a figure older than its window no longer holds work back, and neither does a 429 once its pause is over', () => {
    let now = 0;
    const g = new QuotaGovernor(() => 20, () => now);
    g.observed('hub', { limit: '100;w=21600', remaining: '5;w=21600', at: 0 });
    assert.equal(g.mayRunBackground('hub'), false);
    now = 21_600_000;
    assert.equal(g.mayRunBackground('hub'), true, 'the window passed: the quota refilled');
    g.refused('hub', 60_000);
    now += 60_000;
    assert.equal(g.mayRunBackground('hub'), true, 'the pause is over: one run may ask again');
  });
});
