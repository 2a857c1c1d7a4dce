// Readiness (docs/operating.md, "Health and readiness"): /readyz turns 503 when the data directory cannot take a file, says why on the admin listener and in
// the log (the registry listener names only the failing check: docs/security.md, "Operations probes"), keeps its
// answer for a few seconds (a load balancer's probes do not hit the disk each time), and recovers. Root ignores
// file modes, so the directory fills write into lives on a tmpfs that the test remounts read-only, as
// disk-full.test.ts mounts its tmpfs; the SQLite index stays on the ordinary disk.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdir, mkdtemp, readdir, rm, rmdir, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { diskProbeTtlMs } from '../../src/server/readiness.js';
import { get } from '../support/fake/mirror-over-fake.js';
import { startMirror, type TestMirror } from '../support/mirror-app.js';

const mount = (...args: string[]) => execFileSync('mount', args, { stdio: 'pipe' });

async function cannotMount(): Promise<string | false> {
  const probe = await mkdtemp(join(tmpdir(), 'pullgate-tmpfs-probe-'));
  try {
    mount('-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', probe);
    execFileSync('umount', [probe]);
    return false;
  } catch (err) {
    return `cannot mount a tmpfs here (needs root): ${String(err).split('\n')[0]}`;
  } finally {
    await rmdir(probe);
  }
}

// CI runs as root on machines where this works: there, not being able to mount is a failure, not a skip.
const unmountable = await cannotMount();
if (unmountable && process.env.CI) throw new Error(unmountable);

interface ReadyBody {
  status: string;
  checks: Record<string, string>;
}

describe('readiness of the data directory', { skip: unmountable }, () => {
  let mirror: TestMirror;
  let mountPoint: string;
  let dataDir: string;
  let now = Date.parse('2025-01-01T00:00:00Z');
  const readyz = async (base = mirror.url) => {
    const r = await get(base, '/readyz');
    return { status: r.status, body: JSON.parse(r.body.toString()) as ReadyBody, text: r.body.toString() };
  };

  before(async () => {
    mountPoint = await mkdtemp(join(tmpdir(), 'pullgate-ro-'));
    mount('-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', mountPoint);
    await mkdir(join(mountPoint, 'tmp'));
    dataDir = await mkdtemp(join(tmpdir(), 'pullgate-readiness-'));
    await symlink(join(mountPoint, 'tmp'), join(dataDir, 'tmp'));
    mirror = await startMirror(
      { listen: { admin: '127.0.0.1:0' }, upstreams: [{ name: 'hub', registry: 'docker.io', url: 'http://127.0.0.1:9', default: true }] },
      { dataDir, clock: () => now, adminPassword: 'readiness-admin-password' },
    );
  });
  after(async () => {
    await mirror?.close();
    if (mountPoint) {
      execFileSync('umount', [mountPoint]);
      await rmdir(mountPoint);
    }
    if (dataDir) await rm(dataDir, { recursive: true, force: true });
  });

  test('a writable data directory, an open database and bound listeners make the mirror ready; the probe leaves no file', async () => {
    const r = await readyz();
    assert.equal(r.status, 200);
    assert.deepEqual(r.body, { status: 'ready', checks: { database: 'ok', dataDir: 'ok', listeners: 'ok', shutdown: 'ok' } });
    assert.deepEqual(await readdir(join(mountPoint, 'tmp')), []);
    assert.deepEqual((await readdir(dataDir)).filter((n) => n.startsWith('.readyz')), []);
  });

  test('a read-only data directory turns /readyz to 503 once the cached answer expires; the admin listener and the log name the directory', async () => {
    mount('-o', 'remount,ro', mountPoint);
    const cached = await readyz();
    assert.equal(cached.status, 200, 'within the probe interval the previous answer stands');
    now += diskProbeTtlMs;
    const admin = await readyz(mirror.adminUrl);
    assert.equal(admin.status, 503);
    assert.equal(admin.body.status, 'not ready');
    assert.match(admin.body.checks.dataDir ?? '', /tmp is not writable \(EROFS\)/);
    assert.equal(admin.body.checks.database, 'ok');
    const logged = mirror.logs.filter((l) => l.includes('not ready')).join('\n');
    assert.match(logged, /tmp is not writable \(EROFS\)/, 'the log names the directory');
    const health = await get(mirror.url, '/healthz');
    assert.equal(health.status, 200, 'the process is still up: /healthz stays 200');
  });

  test('the registry listener answers the check names and states only, never a local path', async () => {
    const r = await readyz();
    assert.equal(r.status, 503);
    assert.deepEqual(r.body, { status: 'not ready', checks: { database: 'ok', dataDir: 'failing', listeners: 'ok', shutdown: 'ok' } });
    assert.ok(!r.text.includes(dataDir) && !r.text.includes(mountPoint) && !r.text.includes(tmpdir()), r.text);
    assert.doesNotMatch(r.text, /EROFS|writable|\//);
  });

  test('the mirror is ready again once the directory is writable and the probe interval has passed', async () => {
    mount('-o', 'remount,rw', mountPoint);
    assert.equal((await readyz()).status, 503, 'the cached answer stands until the interval is over');
    now += diskProbeTtlMs;
    assert.equal((await readyz()).status, 200);
  });

  test('a closing mirror is not ready: the database is closed and it is draining', async () => {
    await mirror.close();
    const report = await mirror.app.ready();
    assert.equal(report.ready, false);
    assert.equal(report.checks.shutdown, 'draining');
    assert.match(report.checks.database, /database unavailable/);
    assert.match(report.checks.listeners, /not listening: http/);
  });
});
