// The admin's activity for the whole machine (src/workers/machine-activity.ts, src/server/activity.ts): what a
// worker reports to the lead, and how the lead shows it with its own.
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { openDatabase, type CacheDatabase } from '../../../src/cache/db.js';
import { Traffic } from '../../../src/metrics/traffic.js';
import { Fills } from '../../../src/mirror/fills.js';
import { Activity, type FillEvent } from '../../../src/server/activity.js';
import { reportActivityToLead } from '../../../src/workers/machine-activity.js';
import type { ActivityReport } from '../../../src/workers/worker-context.js';

async function until(what: () => boolean, ms = 10_000): Promise<void> {
  for (const deadline = Date.now() + ms; !what(); ) {
    assert.ok(Date.now() < deadline, 'condition met in time');
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('the admin\'s activity for the machine', () => {
  let dir: string;
  let db: CacheDatabase;
  let traffic: Traffic;
  const activity = () => new Activity(new Fills(() => Promise.reject(new Error('no fills here')), 60_000), traffic);
  const request = { method: 'GET', upstream: 'hub', repository: 'library/alpine', kind: 'blob', status: 200, bytes: 10, ms: 3, client: '127.0.0.1' };
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'pullgate-machine-activity-'));
    db = openDatabase(join(dir, 'cache.db'));
    traffic = new Traffic(db, () => 1_000_000, 60_000);
  });
  after(async () => {
    traffic.close();
    db.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('shows another worker\'s requests in the order they finished, without counting their traffic again', () => {
    const lead = activity();
    const seen: number[] = [];
    lead.onRequest((e) => seen.push(e.at));
    lead.requestFinished({ ...request, at: 10, pull: {} });
    lead.requestFinished({ ...request, at: 30, pull: {} });
    const before = traffic.totals().byUpstream.get('hub')?.bytesServed;
    lead.requestElsewhere({ ...request, at: 20 });
    assert.deepEqual(lead.recent().map((r) => r.at), [30, 20, 10], 'newest first');
    assert.deepEqual(seen, [10, 30, 20], 'streamed to the admin as they arrive');
    assert.equal(traffic.totals().byUpstream.get('hub')?.bytesServed, before, 'the other worker counted its own traffic');
  });

  it('shows a blob filled by one worker and followed by others once, the furthest along, with every worker\'s clients', () => {
    const lead = activity();
    const fill = (bytesDone: number, followers: number): FillEvent => ({ digest: 'sha256:aa', upstream: 'hub', repository: 'r', bytesDone, bytesTotal: 100, rate: 1, startedAt: 1, followers });
    // The holder: 2 clients of its own and one reader for each of the 2 workers following it; each of those has 1 client.
    lead.elsewhere = () => [fill(80, 4), fill(60, 1), fill(70, 1), { ...fill(5, 1), digest: 'sha256:bb' }];
    assert.deepEqual(
      lead.inflight().map((f) => [f.digest, f.bytesDone, f.followers]),
      [
        ['sha256:aa', 80, 4],
        ['sha256:bb', 5, 1],
      ],
    );
  });

  it('a worker reports its finished requests in batches, and its fills until none is left', async () => {
    const worker = activity();
    const reports: ActivityReport[] = [];
    let fills: FillEvent[] = [];
    worker.ownFills = () => fills;
    const stop = reportActivityToLead(worker, (m) => reports.push(m));
    try {
      for (let at = 1; at <= 3; at++) worker.requestFinished({ ...request, at, pull: {} });
      await until(() => reports.length > 0);
      assert.deepEqual(reports.map((r) => r.requests.map((e) => e.at)), [[1, 2, 3]], 'one message for the three');
      fills = [{ digest: 'sha256:cc', upstream: 'hub', repository: 'r', bytesDone: 1, bytesTotal: 2, rate: 1, startedAt: 1, followers: 1 }];
      await until(() => reports.some((r) => r.fills?.length === 1));
      fills = [];
      await until(() => reports.at(-1)?.fills?.length === 0);
      const sent = reports.length;
      await new Promise((r) => setTimeout(r, 2_500));
      assert.equal(reports.length, sent, 'nothing more once no fill is left');
      assert.ok(reports.slice(1).every((r) => r.requests.length === 0 && r.fills !== undefined), 'fills reported apart from requests');
    } finally {
      stop();
    }
  });
});
