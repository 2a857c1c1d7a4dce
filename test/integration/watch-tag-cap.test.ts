// The cap on tags per run of a pattern entry (docs/watch.md, `maxTags`): a pattern over a repository with many tags
// follows at most maxTags of them (the newest by version with `newest`, else the first in the upstream's order),
// asks the upstream about no other, and says how many it skipped in the run's record, the admin API and the log.
// The mirror runs over an in-process fake registry that counts requests; the clock is injected.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import type { Timer } from '../../src/watch/watch-scheduler.js';
import { AdminClient } from '../support/admin-client.js';
import { FakeUpstream } from '../support/fake/fake-upstream.js';
import { startMirror, type TestMirror } from '../support/mirror-app.js';

const password = 'admin-password-for-tests';
const manualTimer: Timer = { set: () => undefined, clear: () => undefined };
const tagCount = 1200;

describe('maxTags: a pattern entry over a repository with many tags', { timeout: 120_000 }, () => {
  let hub: FakeUpstream;
  let mirror: TestMirror;
  let admin: AdminClient;
  const firstN = 'hub/team/many:v*';
  const newestN = 'hub/team/many:release-*';

  before(async () => {
    hub = await new FakeUpstream().start();
    const image = hub.addImage('team/many', 'v1.0.0', [randomBytes(2000)]);
    for (let i = 1; i <= tagCount; i++) {
      hub.putManifest('team/many', `v${i}.0.0`, image.mediaType, image.bytes);
      hub.putManifest('team/many', `release-${i}.0`, image.mediaType, image.bytes);
    }
    mirror = await startMirror(
      {
        listen: { admin: '127.0.0.1:0' },
        upstreams: [
          {
            name: 'hub',
            registry: 'docker.io',
            url: hub.url,
            default: true,
            watch: [
              { repository: 'team/many', tags: ['v*'], maxTags: 5, every: '1h' },
              { repository: 'team/many', tags: ['release-*'], newest: 10, maxTags: 3, every: '1h' },
            ],
          },
        ],
      },
      { adminPassword: password, watchTimer: manualTimer },
    );
    mirror.app.watch.scheduler.start();
    admin = new AdminClient(mirror.adminUrl ?? '');
    assert.equal((await admin.login(password)).status, 200);
  });

  after(async () => {
    await mirror?.close();
    await hub?.stop();
  });

  const tagHeads = () => hub.requests.filter((r) => r.method === 'HEAD' && r.path.startsWith('/v2/team/many/manifests/')).map((r) => r.path.split('/').pop());

  test("without newest: the first maxTags in the upstream's order are followed, no other tag is asked about, the rest counted", async () => {
    hub.requests.length = 0;
    const run = await mirror.app.watch.scheduler.runNow(firstN);
    assert.equal(run.result, 'ok');
    assert.equal(run.skipped, tagCount - 5);
    // The fake lists tags in byte order, as distribution does.
    const expected = ['v1.0.0', 'v10.0.0', 'v100.0.0', 'v1000.0.0', 'v1001.0.0'];
    assert.deepEqual(tagHeads().sort(), [...expected].sort());
    assert.deepEqual(mirror.app.watch.state.tags(firstN).map((t) => t.tag).sort(), [...expected].sort());
    assert.equal(mirror.app.watch.state.runs(firstN, 1)[0]?.skipped, tagCount - 5);
    assert.ok(mirror.logs.some((l) => l.includes('watch entry matches more tags than its maxTags') && l.includes(`"skipped":${tagCount - 5}`)));
  });

  test('with newest: the newest maxTags by version; what newest leaves out is not counted as skipped', async () => {
    hub.requests.length = 0;
    const run = await mirror.app.watch.scheduler.runNow(newestN);
    assert.equal(run.result, 'ok');
    assert.deepEqual(tagHeads().sort(), [`release-${tagCount}.0`, `release-${tagCount - 1}.0`, `release-${tagCount - 2}.0`].sort());
    assert.equal(run.skipped, 7, 'newest 10, of which the cap of 3 leaves out 7');
  });

  test('the admin API shows each entry\'s cap and what its last run skipped', async () => {
    const body = (await admin.call<{ entries: Array<{ id: string; maxTags: number; lastRun: { skipped: number } | null }> }>('GET', '/api/watch')).body;
    const byId = new Map(body.entries.map((e) => [e.id, e]));
    assert.deepEqual([byId.get(firstN)?.maxTags, byId.get(firstN)?.lastRun?.skipped], [5, tagCount - 5]);
    assert.deepEqual([byId.get(newestN)?.maxTags, byId.get(newestN)?.lastRun?.skipped], [3, 7]);
  });
});
