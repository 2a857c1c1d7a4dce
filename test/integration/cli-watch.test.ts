// `pullgate watch ls|add|rm|run` against a running mirror through its admin API (docs/watch.md), as a user runs it:
// a child process with the admin URL and an API token in the environment; field errors exit 2 naming the field.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { Timer } from '../../src/watch/watch-scheduler.js';
import { FakeUpstream } from '../support/fake/fake-upstream.js';
import { startMirror, type TestMirror } from '../support/mirror-app.js';

const main = fileURLToPath(new URL('../../src/main.ts', import.meta.url));
const manualTimer: Timer = { set: () => undefined, clear: () => undefined };

interface Ran {
  code: number;
  stdout: string;
  stderr: string;
}

let env: Record<string, string> = {};
function pullgate(args: string[]): Promise<Ran> {
  return new Promise((resolve, reject) => {
    execFile(process.execPath, ['--import', 'tsx', main, ...args], { env: { ...process.env, ...env } }, (err, stdout, stderr) => {
      if (err && typeof (err as { code?: unknown }).code !== 'number') return reject(err);
      resolve({ code: err ? Number((err as { code?: unknown }).code) : 0, stdout, stderr });
    });
  });
}

function exits(r: Ran, code: number): void {
  assert.equal(r.code, code, `exit ${r.code}, expected ${code}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`);
}

describe('pullgate watch against a running mirror', () => {
  let hub: FakeUpstream;
  let mirror: TestMirror;
  const now = Date.UTC(2026, 11, 7, 8, 30);

  before(async () => {
    hub = await new FakeUpstream().start();
    hub.addImage('team/app', '1.0', [randomBytes(4000)]);
    mirror = await startMirror(
      {
        listen: { admin: '127.0.0.1:0' },
        upstreams: [{ name: 'hub', registry: 'docker.io', url: hub.url, default: true, watch: [{ repository: 'library/alpine', tags: ['3.20'], every: '1h' }] }],
      },
      { adminPassword: 'admin-password-for-tests', clock: () => now, watchTimer: manualTimer },
    );
    env = { PULLGATE_ADMIN_URL: mirror.adminUrl ?? '' };
    const made = await pullgate(['token', 'create', 'cli-watch', '--data-dir', mirror.dataDir]);
    exits(made, 0);
    env.PULLGATE_ADMIN_TOKEN = made.stdout.trim();
  });

  after(async () => {
    await mirror?.close();
    await hub?.stop();
  });

  test('watch add adds an entry and says when it runs; a bad one exits 2 naming the field', async () => {
    const added = await pullgate(['watch', 'add', 'hub', 'team/app', '--tag', '1.0', '--every', '6h', '--jitter', '10m', '--keep', '2']);
    exits(added, 0);
    assert.match(added.stdout, /^watching hub\/team\/app:1\.0 \(every 6h \+10m\), next run 2026-12-07T1\d:\d\d:\d\dZ$/m);
    const bad = await pullgate(['watch', 'add', 'hub', 'team/app', '--tag', '2.0', '--every', '5s']);
    exits(bad, 2);
    assert.match(bad.stderr, /^ {2}every: expected a duration/m);
    const badKeep = await pullgate(['watch', 'add', 'hub', 'team/app', '--tag', '2.0', '--every', '6h', '--keep', 'many']);
    exits(badKeep, 2);
    assert.match(badKeep.stderr, /^ {2}keep: /m);
    const taken = await pullgate(['watch', 'add', 'hub', 'team/app', '--tag', '1.0', '--cron', '0 6 * * *']);
    exits(taken, 1);
    assert.match(taken.stderr, /already watched/);
  });

  test('watch ls lists both sources with schedule, next and last run', async () => {
    const ls = await pullgate(['watch', 'ls']);
    exits(ls, 0);
    assert.match(ls.stdout, /^ENTRY\s+SOURCE\s+SCHEDULE\s+NEXT RUN\s+LAST RUN\s+TAGS$/m);
    assert.match(ls.stdout, /^hub\/library\/alpine:3\.20\s+config\s+every 1h\s+2026-12-07T09:00:00Z\s+never\s+-$/m);
    assert.match(ls.stdout, /^hub\/team\/app:1\.0\s+admin\s+every 6h \+10m\s+\S+\s+never\s+-$/m);
    const json = await pullgate(['watch', 'ls', '--json']);
    exits(json, 0);
    assert.deepEqual((JSON.parse(json.stdout) as { entries: Array<{ id: string }> }).entries.map((e) => e.id), ['hub/library/alpine:3.20', 'hub/team/app:1.0']);
  });

  test('watch run runs an entry now and prints each tag; a failing run exits 1', async () => {
    const run = await pullgate(['watch', 'run', 'hub/team/app:1.0']);
    exits(run, 0);
    assert.match(run.stdout, /^hub\/team\/app:1\.0: ok, 1 tag moved, [\d.]+ \S+ fetched$/m);
    const digest = hub.manifests.get('team/app')?.get('1.0')?.digest ?? '?';
    assert.ok(run.stdout.includes(`  1.0  ${digest}`), run.stdout);
    const ls = await pullgate(['watch', 'ls']);
    assert.match(ls.stdout, new RegExp(`^hub/team/app:1\\.0\\s+admin\\s+.*\\s+ok 2026-12-07T08:30:00Z\\s+1\\.0=${digest.slice(7, 19)}$`, 'm'));
    // library/alpine is not on the upstream: the run fails, and says why.
    const failed = await pullgate(['watch', 'run', 'hub/library/alpine:3.20']);
    exits(failed, 1);
    assert.match(failed.stdout, /^hub\/library\/alpine:3\.20: failed, 0 tags moved/m);
    assert.match(failed.stdout, /error: /);
  });

  test('watch rm removes an admin entry; a config entry is read-only', async () => {
    const ro = await pullgate(['watch', 'rm', 'hub/library/alpine:3.20']);
    exits(ro, 1);
    assert.match(ro.stderr, /declared in the config file/);
    exits(await pullgate(['watch', 'rm', 'hub/team/app:1.0']), 0);
    const ls = await pullgate(['watch', 'ls']);
    assert.ok(!ls.stdout.includes('team/app'), ls.stdout);
    const gone = await pullgate(['watch', 'rm', 'hub/team/app:1.0']);
    exits(gone, 1);
    assert.match(gone.stderr, /no watch entry/);
  });
});
