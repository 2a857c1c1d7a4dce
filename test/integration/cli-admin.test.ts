import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { renderProgress } from '../../src/cli/progress-bar.js';
import { fullManifestAccept } from '../../src/registry/media-types.js';
import { FakeUpstream } from '../support/fake/fake-upstream.js';
import { errorCode, get } from '../support/fake/mirror-over-fake.js';
import { startMirror, type TestMirror } from '../support/mirror-app.js';

const main = fileURLToPath(new URL('../../src/main.ts', import.meta.url));

interface Ran {
  code: number;
  stdout: string;
  stderr: string;
}

/** A child's exit code; one killed by a signal is reported as such rather than passing for an exit 1. */
function exitCode(err: (Error & { code?: unknown; signal?: unknown }) | null): number {
  if (!err) return 0;
  if (typeof err.code === 'number') return err.code;
  throw new Error(`the command did not exit normally: ${String(err.signal ?? err.code ?? err.message)}`);
}

/** Runs `pullgate ARGS` as a user does, with the admin URL and token in the environment unless `env` says otherwise. */
let baseEnv: Record<string, string> = {};
function pullgate(args: string[], env: Record<string, string | undefined> = {}): Promise<Ran> {
  const merged: NodeJS.ProcessEnv = { ...process.env, ...baseEnv };
  for (const [k, v] of Object.entries(env)) {
    if (v === undefined) delete merged[k];
    else merged[k] = v;
  }
  return runFile(process.execPath, ['--import', 'tsx', main, ...args], merged);
}

function runFile(file: string, args: string[], env: NodeJS.ProcessEnv): Promise<Ran> {
  return new Promise((resolve, reject) => {
    execFile(file, args, { env, maxBuffer: 16 * 1024 * 1024 }, (err, stdout, stderr) => {
      try {
        resolve({ code: exitCode(err), stdout, stderr });
      } catch (e) {
        reject(e as Error);
      }
    });
  });
}

/** Asserts the exit code, showing what the command said when it differs. */
function exits(r: Ran, code: number): void {
  assert.equal(r.code, code, `exit ${r.code}, expected ${code}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`);
}

const json = <T>(r: Ran): T => {
  exits(r, 0);
  return JSON.parse(r.stdout) as T;
};

/** A loopback port with nothing listening on it. */
async function closedPort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const { port } = s.address() as { port: number };
  await new Promise((r) => s.close(r));
  return port;
}

interface UpstreamJson {
  name: string;
  enabled: boolean;
  source: string;
  auth: { username?: string; hasPassword: boolean };
}

describe('the pullgate command against a running mirror', () => {
  let up: FakeUpstream;
  let mirror: TestMirror;
  let dir: string;
  let token: string;
  const robotPassword = 'robot-sekret-7f3a';

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'pullgate-cli-admin-'));
    up = await new FakeUpstream({ auth: true, users: { robot: robotPassword } }).start();
    up.addImage('library/alpine', '3.20', [randomBytes(40_000)]);
    up.addImage('private/app', '1', [randomBytes(10_000)]);
    mirror = await startMirror(
      { listen: { admin: '127.0.0.1:0' }, upstreams: [{ name: 'hub', registry: 'docker.io', url: up.url, default: true }] },
      { adminPassword: 'admin-password-for-tests' },
    );
    await writeFile(join(dir, 'robot.txt'), `${robotPassword}\n`);
    await writeFile(join(dir, 'wrong.txt'), 'not-the-password\n');
    baseEnv = { PULLGATE_ADMIN_URL: mirror.adminUrl ?? '' };
    const created = await pullgate(['token', 'create', 'cli-tests', '--data-dir', mirror.dataDir]);
    exits(created, 0);
    token = created.stdout.trim();
    baseEnv.PULLGATE_ADMIN_TOKEN = token;
  });
  after(async () => {
    await mirror.close();
    await up.stop();
    await rm(dir, { recursive: true, force: true });
  });

  test('token create prints the token alone, once; token ls never shows it; token rm revokes it', async () => {
    assert.match(token, /^pgat_[A-Za-z0-9_-]{40,}$/);
    const second = await pullgate(['token', 'create', 'ci', '--data-dir', mirror.dataDir, '--json']);
    const made = json<{ id: string; name: string; token: string }>(second);
    assert.equal(made.name, 'ci');
    // The new token works against the API at once.
    exits(await pullgate(['upstream', 'ls', '--json'], { PULLGATE_ADMIN_TOKEN: made.token }), 0);

    const ls = await pullgate(['token', 'ls', '--data-dir', mirror.dataDir, '--json']);
    const listed = json<{ tokens: Array<{ id: string; name: string; lastUsedAt: number | null }> }>(ls);
    assert.deepEqual(listed.tokens.map((t) => t.name), ['cli-tests', 'ci']);
    assert.ok(listed.tokens.find((t) => t.name === 'ci')?.lastUsedAt, 'the use above is recorded');
    assert.ok(!ls.stdout.includes('pgat_'), 'no token value in the listing');
    const table = await pullgate(['token', 'ls', '--data-dir', mirror.dataDir]);
    assert.match(table.stdout, /^ID\s+NAME\s+CREATED\s+LAST USED$/m);
    assert.ok(!table.stdout.includes('pgat_'));

    const removed = await pullgate(['token', 'rm', made.id, '--data-dir', mirror.dataDir]);
    exits(removed, 0);
    assert.match(removed.stdout, new RegExp(`revoked API token ${made.id}`));
    const refused = await pullgate(['upstream', 'ls'], { PULLGATE_ADMIN_TOKEN: made.token });
    exits(refused, 1);
    assert.match(refused.stderr, /^pullgate: the admin API refused the token/);

    const again = await pullgate(['token', 'rm', made.id, '--data-dir', mirror.dataDir]);
    exits(again, 1);
    assert.match(again.stderr, new RegExp(`^pullgate: no API token ${made.id}`));
  });

  test('a missing, wrong or unreachable admin exits 1 with a clear message and never echoes the token', async () => {
    const missing = await pullgate(['upstream', 'ls'], { PULLGATE_ADMIN_TOKEN: undefined });
    exits(missing, 1);
    assert.equal(missing.stderr, 'pullgate: no admin API token: pass --token or set PULLGATE_ADMIN_TOKEN (create one with `pullgate token create NAME`)\n');

    const wrong = 'pgat_this-token-was-never-issued-000000000000000';
    const refused = await pullgate(['cache', 'pins', '--token', wrong]);
    exits(refused, 1);
    assert.match(refused.stderr, /^pullgate: the admin API refused the token \(log in first \(or send an API token\)\); create one with `pullgate token create NAME`\n$/);
    assert.ok(!refused.stderr.includes(wrong) && !refused.stdout.includes(wrong));

    const port = await closedPort();
    const down = await pullgate(['upstream', 'ls', '--admin', `http://127.0.0.1:${port}`]);
    exits(down, 1);
    assert.equal(down.stderr, `pullgate: cannot reach the admin API at http://127.0.0.1:${port}: ECONNREFUSED\n`);
    assert.ok(!down.stderr.includes(token));
  });

  test('usage errors exit 2: a missing argument or option, an unknown option, a group without its subcommand, bad input', async () => {
    const noRegistry = await pullgate(['upstream', 'add', 'corp', '--url', 'https://corp.example.test']);
    const noPattern = await pullgate(['cache', 'pin']);
    const unknownOption = await pullgate(['upstream', 'ls', '--colour']);
    const bare = await pullgate(['upstream']);
    const badName = await pullgate(['token', 'create', 'x'.repeat(65), '--data-dir', dir]);
    const badAdmin = await pullgate(['upstream', 'ls', '--admin', 'not a url']);
    exits(noRegistry, 2);
    assert.match(noRegistry.stderr, /required option '--registry <host>' not specified/);
    exits(noPattern, 2);
    assert.match(noPattern.stderr, /missing required argument 'pattern'/);
    exits(unknownOption, 2);
    assert.match(unknownOption.stderr, /unknown option '--colour'/);
    exits(bare, 2);
    assert.match(bare.stderr, /Usage: pullgate upstream/);
    exits(badName, 2);
    assert.match(badName.stderr, /^pullgate: token name: 1 to 64 characters$/m);
    exits(badAdmin, 2);
    assert.match(badAdmin.stderr, /^pullgate: --admin: not a URL: not a url$/m);
    const help = await pullgate(['prefetch', '--help']);
    exits(help, 0);
    assert.match(help.stdout, /Usage: pullgate prefetch \[options\] <images\.\.\.>/);
  });

  test('upstream add reports a field error by its path (exit 2) and a taken name as a conflict (exit 1)', async () => {
    const bad = await pullgate(['upstream', 'add', 'bad', '--registry', 'bad.example.test', '--url', 'ftp://bad.example.test']);
    exits(bad, 2);
    assert.match(bad.stderr, /^pullgate: url: expected an http:\/\/ or https:\/\/ URL\n {2}url: expected an http:\/\/ or https:\/\/ URL\n$/);
    const noUser = await pullgate(['upstream', 'add', 'nouser', '--registry', 'nouser.example.test', '--url', up.url, '--password-file', join(dir, 'robot.txt')]);
    exits(noUser, 2);
    assert.match(noUser.stderr, /auth\.username: a password needs a username/);
    const taken = await pullgate(['upstream', 'add', 'hub', '--registry', 'other.example.test', '--url', up.url]);
    exits(taken, 1);
    assert.match(taken.stderr, /^pullgate: name: an upstream named hub exists\n/);
    const unreadable = await pullgate(['upstream', 'add', 'x', '--registry', 'x.example.test', '--url', up.url, '--ca-file', join(dir, 'missing.pem')]);
    exits(unreadable, 2);
    assert.match(unreadable.stderr, /--ca-file: cannot read .*missing\.pem \(ENOENT\)/);
    const listed = json<{ upstreams: UpstreamJson[] }>(await pullgate(['upstream', 'ls', '--json']));
    assert.deepEqual(listed.upstreams.map((u) => u.name), ['hub'], 'nothing was added');
  });

  test('upstream add with a password file, ls (table and JSON, no password), test step by step, disable, enable, rm', async () => {
    const added = await pullgate([
      'upstream', 'add', 'corp', '--registry', 'corp.example.test', '--url', up.url, '--host', 'corp.mirror.test',
      '--username', 'robot', '--password-file', join(dir, 'robot.txt'), '--tag-ttl', '1m',
    ]);
    exits(added, 0);
    assert.equal(added.stdout, `added upstream corp: corp.example.test -> ${up.url}\n`);

    const lsJson = await pullgate(['upstream', 'ls', '--json']);
    const list = json<{ upstreams: UpstreamJson[] }>(lsJson);
    const corp = list.upstreams.find((u) => u.name === 'corp');
    assert.deepEqual({ source: corp?.source, enabled: corp?.enabled, auth: corp?.auth }, { source: 'admin', enabled: true, auth: { mode: 'mirror', username: 'robot', hasPassword: true } } as never);
    assert.ok(!lsJson.stdout.includes(robotPassword));
    const lsTable = await pullgate(['upstream', 'ls']);
    exits(lsTable, 0);
    assert.match(lsTable.stdout, /^NAME\s+REGISTRY\s+URL\s+HOSTS\s+SOURCE\s+ENABLED\s+HEALTH$/m);
    assert.match(lsTable.stdout, new RegExp(`^hub\\s+docker\\.io\\s+${up.url}\\s+\\(root\\)\\s+config\\s+yes\\s+`, 'm'));
    assert.match(lsTable.stdout, new RegExp(`^corp\\s+corp\\.example\\.test\\s+${up.url}\\s+corp\\.mirror\\.test\\s+admin\\s+yes\\s+not contacted yet$`, 'm'));
    assert.ok(!lsTable.stdout.includes(robotPassword));

    // The password from the file reached the server: the private repository's manifest answers.
    const tested = await pullgate(['upstream', 'test', 'corp', '--image', 'private/app:1']);
    exits(tested, 0);
    const lines = tested.stdout.trim().split('\n');
    assert.deepEqual(lines.map((l) => /^(✓|✗) (\w+)/.exec(l)?.slice(1, 3).join(' ')), ['✓ resolve', '✓ connect', '✓ token', '✓ manifest', undefined]);
    assert.match(lines[1] ?? '', /GET \/v2\/ answered 401 \(token realm 127\.0\.0\.1:\d+\) \(\d+ ms\)$/);
    assert.match(lines[3] ?? '', /private\/app:1 is sha256:[0-9a-f]{64}/);
    assert.equal(lines[4], 'upstream corp: every step passed');

    // Through the mirror by path prefix while enabled; refused once disabled; back when enabled.
    const path = '/v2/corp.example.test/private/app/manifests/1';
    assert.equal((await get(mirror.url, path)).status, 200);
    const disabled = await pullgate(['upstream', 'disable', 'corp']);
    assert.equal(disabled.stdout, 'upstream corp disabled\n');
    const off = json<{ upstreams: UpstreamJson[] }>(await pullgate(['upstream', 'ls', '--json'])).upstreams.find((u) => u.name === 'corp');
    assert.equal(off?.enabled, false);
    const refused = await get(mirror.url, path);
    assert.equal(refused.status, 404);
    assert.equal(errorCode(refused), 'NAME_UNKNOWN');
    const enabled = await pullgate(['upstream', 'enable', 'corp', '--json']);
    assert.equal(json<UpstreamJson>(enabled).enabled, true);
    assert.equal((await get(mirror.url, path)).status, 200);

    const readOnly = await pullgate(['upstream', 'rm', 'hub']);
    exits(readOnly, 1);
    assert.match(readOnly.stderr, /^pullgate: upstream hub is declared in the config file; change it there\n$/);
    const removed = await pullgate(['upstream', 'rm', 'corp']);
    exits(removed, 0);
    assert.equal(removed.stdout, 'removed upstream corp\n');
    const after = json<{ upstreams: UpstreamJson[] }>(await pullgate(['upstream', 'ls', '--json']));
    assert.deepEqual(after.upstreams.map((u) => u.name), ['hub']);
    const gone = await pullgate(['upstream', 'test', 'corp']);
    exits(gone, 1);
    assert.match(gone.stderr, /^pullgate: no upstream named corp\n$/);
  });

  test('upstream test marks the failing step with ✗ and exits 1: a wrong password, then nothing listening', async () => {
    const port = await closedPort();
    exits(await pullgate(['upstream', 'add', 'wrongpw', '--registry', 'wrongpw.example.test', '--url', up.url, '--username', 'robot', '--password-file', join(dir, 'wrong.txt')]), 0);
    exits(await pullgate(['upstream', 'add', 'dead', '--registry', 'dead.example.test', '--url', `http://127.0.0.1:${port}`]), 0);
    try {
      const wrong = await pullgate(['upstream', 'test', 'wrongpw', '--image', 'private/app:1']);
      exits(wrong, 1);
      assert.match(wrong.stdout, /^✓ connect /m);
      assert.match(wrong.stdout, /^✗ token {4}DENIED: the upstream token service refused the configured credentials \(\d+ ms\)$/m);
      assert.doesNotMatch(wrong.stdout, /manifest/, 'the steps stop at the first failure');
      assert.match(wrong.stdout, /^upstream wrongpw: the token step failed$/m);

      const dead = await pullgate(['upstream', 'test', 'dead', '--json']);
      exits(dead, 1);
      const result = JSON.parse(dead.stdout) as { ok: boolean; steps: Array<{ step: string; ok: boolean; detail: string }> };
      assert.equal(result.ok, false);
      assert.deepEqual(result.steps.map((s) => [s.step, s.ok]), [['resolve', true], ['connect', false]]);
      assert.match(result.steps[1]?.detail ?? '', /ECONNREFUSED/);
    } finally {
      await pullgate(['upstream', 'rm', 'wrongpw']);
      await pullgate(['upstream', 'rm', 'dead']);
    }
  });

  test('cache ls walks upstreams, repositories and images after a pull; pin and unpin show in pins and on the image', async () => {
    const manifest = await get(mirror.url, '/v2/library/alpine/manifests/3.20', { headers: { accept: fullManifestAccept } });
    assert.equal(manifest.status, 200);
    const doc = JSON.parse(manifest.body.toString()) as { config: { digest: string }; layers: Array<{ digest: string }> };
    for (const d of [doc.config.digest, ...doc.layers.map((l) => l.digest)]) assert.equal((await get(mirror.url, `/v2/library/alpine/blobs/${d}`)).status, 200);

    const summary = json<{ upstreams: Array<{ name: string; repositories: number }> }>(await pullgate(['cache', 'ls', '--json']));
    assert.ok(summary.upstreams.some((u) => u.name === 'hub' && u.repositories >= 1), JSON.stringify(summary));
    const repos = json<{ repositories: Array<{ repository: string; tags: number }> }>(await pullgate(['cache', 'ls', 'hub', '--json']));
    assert.deepEqual(repos.repositories.find((r) => r.repository === 'library/alpine')?.tags, 1);
    const images = json<{ images: Array<{ tags: string[]; pinned: boolean; size: number }> }>(await pullgate(['cache', 'ls', 'hub', 'library/alpine', '--json']));
    assert.equal(images.images.length, 1);
    assert.deepEqual(images.images[0]?.tags, ['3.20']);
    assert.equal(images.images[0]?.pinned, false);
    assert.ok((images.images[0]?.size ?? 0) > 40_000);
    const table = await pullgate(['cache', 'ls', 'hub', 'library/alpine']);
    // No signature policy on this upstream: the SIGNATURE column says `-` (verdicts: admin-signature-verdicts.test.ts).
    assert.match(table.stdout, /^TAGS\s+SIZE\s+PLATFORMS\s+LAST PULL\s+PULLS\s+PINNED\s+SIGNATURE\s+DIGEST$/m);
    assert.match(table.stdout, /^3\.20\s+\d+\.\d KiB\s+-\s+\S+Z\s+\d+\s+no\s+-\s+sha256:[0-9a-f]{64}$/m);

    const pinned = await pullgate(['cache', 'pin', 'hub/library/alpine:3.20']);
    assert.equal(pinned.stdout, 'pinned hub/library/alpine:3.20\n');
    assert.deepEqual(json<{ pins: unknown[] }>(await pullgate(['cache', 'pins', '--json'])).pins, [{ pin: 'hub/library/alpine:3.20', source: 'admin' }]);
    const pinnedImages = json<{ images: Array<{ pinned: boolean }> }>(await pullgate(['cache', 'ls', 'hub', 'library/alpine', '--json']));
    assert.equal(pinnedImages.images[0]?.pinned, true);
    const unpinned = await pullgate(['cache', 'unpin', 'hub/library/alpine:3.20', '--json']);
    assert.deepEqual(json<{ pins: unknown[] }>(unpinned).pins, []);
    assert.equal(json<{ images: Array<{ pinned: boolean }> }>(await pullgate(['cache', 'ls', 'hub', 'library/alpine', '--json'])).images[0]?.pinned, false);

    const notPinned = await pullgate(['cache', 'unpin', 'hub/library/alpine:3.20']);
    exits(notPinned, 1);
    assert.match(notPinned.stderr, /^pullgate: no pin hub\/library\/alpine:3\.20\n$/);
    const badPin = await pullgate(['cache', 'pin', 'nonsense']);
    exits(badPin, 2);
    assert.match(badPin.stderr, /^pullgate: pin: .+\n {2}pin: .+\n$/);
  });

  test('prefetch pulls an image into the cache (exit 0), and a later pull of its blobs is a HIT without the upstream', async () => {
    const layers = [randomBytes(300_000), randomBytes(200_000)];
    const image = up.addImage('library/busybox', '1.36', layers);
    const doc = JSON.parse(image.bytes.toString()) as { config: { digest: string }; layers: Array<{ digest: string }> };
    const digests = [doc.config.digest, ...doc.layers.map((l) => l.digest)];

    const r = await pullgate(['prefetch', 'busybox:1.36', '--json']);
    exits(r, 0);
    const job = JSON.parse(r.stdout) as { state: string; images: Array<{ image: string; state: string; blobsDone: number; blobsTotal: number; bytesDone: number }> };
    assert.equal(job.state, 'done');
    assert.deepEqual(job.images.map((i) => [i.image, i.state, i.blobsDone, i.blobsTotal]), [['busybox:1.36', 'done', 3, 3]]);
    // Not a terminal: plain lines, no cursor movement.
    assert.match(r.stderr, /^busybox:1\.36: done, 3 blobs, \d+\.\d KiB$/m);
    assert.ok(!r.stderr.includes('\x1b['));

    up.reset();
    const logsBefore = mirror.logs.length;
    for (const [i, d] of digests.entries()) {
      const blob = await get(mirror.url, `/v2/library/busybox/blobs/${d}`);
      assert.equal(blob.status, 200);
      if (i > 0) assert.ok(blob.body.equals(layers[i - 1] as Buffer));
    }
    assert.equal(up.count((q) => q.path.includes('/blobs/')), 0, 'no blob went upstream');
    const marks = () =>
      mirror.logs
        .slice(logsBefore)
        .map((l) => JSON.parse(l) as { reference?: string; cache?: string })
        .filter((l) => l.reference !== undefined && digests.includes(l.reference) && l.cache !== undefined)
        .map((l) => l.cache);
    for (let i = 0; i < 100 && marks().length < digests.length; i++) await new Promise((res) => setTimeout(res, 10));
    assert.deepEqual(marks(), ['HIT', 'HIT', 'HIT']);
    const images = json<{ images: Array<{ tags: string[] }> }>(await pullgate(['cache', 'ls', 'hub', 'library/busybox', '--json']));
    assert.deepEqual(images.images.map((i) => i.tags), [['1.36']]);
  });

  test('prefetch of an image the upstream lacks exits 1 and names it; a bad platform is a usage error (exit 2)', async () => {
    const r = await pullgate(['prefetch', 'library/alpine:3.20', 'library/nope:1']);
    exits(r, 1);
    assert.match(r.stderr, /^library\/alpine:3\.20: done, 2 blobs, /m);
    assert.match(r.stderr, /^library\/nope:1: failed: .+$/m);
    assert.equal(r.stdout, '1 of 2 images failed\n');
    const platform = await pullgate(['prefetch', 'alpine', '--platform', 'linux']);
    exits(platform, 2);
    assert.match(platform.stderr, /^pullgate: platforms\.0: expected os\/arch\[\/variant\]\n/);
  });

  test('on a terminal, prefetch draws one bar per image and redraws it in place', async () => {
    const layers = [randomBytes(100_000)];
    up.addImage('library/tty', '1', layers);
    const command = [process.execPath, '--import', 'tsx', main, 'prefetch', 'library/tty:1', 'library/alpine:3.20'].map((a) => `'${a}'`).join(' ');
    // script(1) runs the command on a pseudo-terminal; its output is what the terminal received.
    const r = await runFile('script', ['-qec', command, '/dev/null'], { ...process.env, ...baseEnv });
    exits(r, 0);
    assert.ok(r.stdout.includes('\r\x1b[2Klibrary/tty:1 '), JSON.stringify(r.stdout));
    assert.match(r.stdout, /\x1b\[2A/, 'the second drawing moves back up over both lines');
    assert.match(r.stdout, /library\/tty:1\s+█{10,30} 100% .* 2\/2 blobs {2}done/);
    assert.match(r.stdout, /library\/alpine:3\.20 █{10,30} 100% .* 2\/2 blobs {2}done/);
    assert.match(r.stdout, /2 images cached/);
  });

  test('the progress line fits the terminal and shows a partial bar', () => {
    const job = {
      id: 'j',
      createdAt: 0,
      state: 'running' as const,
      platforms: [],
      images: [
        { image: 'gcr.io/distroless/base:nonroot', state: 'running' as const, bytesDone: 512 * 1024, bytesTotal: 2 * 1024 * 1024, blobsDone: 1, blobsTotal: 4 },
        { image: 'alpine', state: 'queued' as const, bytesDone: 0, bytesTotal: 0, blobsDone: 0, blobsTotal: 0 },
      ],
    };
    const [first, second] = renderProgress(job, 120);
    assert.equal(first, `gcr.io/distroless/base:nonroot ${'█'.repeat(8)}${'░'.repeat(22)}  25%  512.0 KiB/2.0 MiB  1/4 blobs  running`);
    assert.equal(second, `alpine                         ${'░'.repeat(30)}   0%  0 B/0 B  0/0 blobs  queued`);
    for (const line of renderProgress(job, 50)) assert.ok(line.length < 50, line);
  });
});
