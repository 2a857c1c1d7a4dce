import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { access, copyFile, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { request, Agent } from 'undici';
import { contractExampleYaml } from '../support/contract-example.js';
import { FakeUpstream } from '../support/fake/fake-upstream.js';
import { startMirror } from '../support/mirror-app.js';
import { createTestCa } from '../support/pki.js';

const main = fileURLToPath(new URL('../../src/main.ts', import.meta.url));

const example = contractExampleYaml;

function run(args: string[], env: NodeJS.ProcessEnv = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, ['--import', 'tsx', main, ...args], { env: { ...process.env, ...env } }, (err, stdout, stderr) => {
      resolve({ code: err ? Number((err as { code?: unknown }).code ?? 1) : 0, stdout, stderr });
    });
  });
}

describe('the pullgate command', () => {
  let dir: string;
  let caPem: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'pullgate-cli-'));
    const ca = await createTestCa(join(dir, 'ca'));
    caPem = ca.caCertPem;
    const cert = await ca.issue('mirror', ['hub.mirror.test', 'gcr.mirror.test'], ['127.0.0.1']);
    await mkdir(join(dir, 'certs'));
    await mkdir(join(dir, 'secrets'));
    await copyFile(cert.certPath, join(dir, 'certs/fullchain.pem'));
    await copyFile(cert.keyPath, join(dir, 'certs/privkey.pem'));
    await copyFile(ca.caCertPath, join(dir, 'certs/corp-ca.pem'));
    await writeFile(join(dir, 'secrets/corp.txt'), 'robot-password\n');
    await writeFile(join(dir, 'pullgate.yaml'), example);
  });
  after(() => rm(dir, { recursive: true, force: true }));

  test('config check accepts the documented example and summarises it', async () => {
    const r = await run(['config', 'check', join(dir, 'pullgate.yaml')]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /: OK/);
    assert.match(r.stdout, /upstream hub: docker\.io -> https:\/\/registry-1\.docker\.io\/ \(auth mirror\) via mirror root, hub\.mirror\.test/);
    assert.match(r.stdout, /upstream gcr: gcr\.io .*\(auth passthrough\)/);
    assert.match(r.stdout, /upstream corp: registry\.corp\.test:5000 .*\(auth mirror as robot\)/);
    assert.ok(!r.stdout.includes('robot-password'));
  });

  test('config check says how many processes serve: one by default, the configured workers otherwise', async () => {
    assert.match((await run(['config', 'check', join(dir, 'pullgate.yaml')])).stdout, /^ {2}workers: 1 \(one process\)$/m);
    const three = join(dir, 'workers.yaml');
    await writeFile(three, 'workers: 3\n');
    const r = await run(['config', 'check', three]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^ {2}workers: 3 \(a supervisor and 3 worker processes: docs\/workers\.md\)$/m);
  });

  test('config check names the port each ACME challenge is answered on', async () => {
    const acme = (challenge: string) => `listen: { http: ":5000", https: ":8443" }\ntls: { acme: { email: ops@example.com, termsAgreed: true, challenge: ${challenge}, hosts: [m.example.com], httpListen: ":8080" } }\n`;
    const file = join(dir, 'acme.yaml');
    await writeFile(file, acme('tls-alpn-01'));
    assert.match((await run(['config', 'check', file])).stdout, /tls\.acme: m\.example\.com from \S+ \(tls-alpn-01 on :8443\)/);
    await writeFile(file, acme('http-01'));
    assert.match((await run(['config', 'check', file])).stdout, /tls\.acme: m\.example\.com from \S+ \(http-01 on :8080\)/);
  });

  test('config check reports every problem with its path and exits 2', async () => {
    const bad = join(dir, 'bad.yaml');
    await writeFile(bad, 'listen: { http: nope }\ncolour: blue\nupstreams:\n  - { name: x, registry: x.io, url: ftp://x.io, auth: { password: p } }\n');
    const r = await run(['config', 'check', bad]);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /listen\.http: expected host:port/);
    assert.match(r.stderr, /Unrecognized key: "colour"/);
    assert.match(r.stderr, /upstreams\[0\]\.url: expected an http/);
    assert.match(r.stderr, /upstreams\[0\]\.auth: a password needs a username/);
  });

  test('config check names a missing or broken certificate by its config path', async () => {
    const broken = join(dir, 'broken.yaml');
    await writeFile(broken, example.replace('certs/fullchain.pem', 'certs/missing.pem').replace('certs/corp-ca.pem', 'secrets/corp.txt'));
    const r = await run(['config', 'check', broken]);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /tls\.certificates\[0\]\.cert: cannot read .*missing\.pem \(ENOENT\)/);
    assert.match(r.stderr, /upstreams\[2\]\.ca: .*corp\.txt is not valid PEM/);
  });

  test('cache stats next to a running server leaves that server\'s fills in progress (temp files) alone', async () => {
    const data = join(dir, 'live-data');
    await mkdir(join(data, 'tmp'), { recursive: true });
    const fill = join(data, 'tmp', 'fill-in-progress');
    await writeFile(fill, 'partial blob bytes');
    const r = await run(['cache', 'stats', '--data-dir', data]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(JSON.parse(r.stdout).blobs, 0);
    await access(fill);
  });

  test('user add|ls|rm|hash manage the registry users of a data directory; the mirror then accepts the login', { timeout: 60_000 }, async () => {
    const data = join(dir, 'users-data');
    const pw = join(dir, 'user-password.txt');
    await writeFile(pw, 'a-long-user-password\n');
    const hashed = await run(['user', 'hash', '--password-file', pw]);
    assert.equal(hashed.code, 0, hashed.stderr);
    assert.match(hashed.stdout, /^scrypt\$\d+\$/);
    assert.equal((await run(['user', 'add', 'ci', '--password-file', pw, '--data-dir', data])).code, 0);
    const ls = await run(['user', 'ls', '--json', '--data-dir', data]);
    assert.deepEqual((JSON.parse(ls.stdout) as { users: Array<{ username: string; source: string }> }).users.map((u) => [u.username, u.source]), [['ci', 'stored']]);
    assert.ok(!ls.stdout.includes('a-long-user-password'));
    const m = await startMirror({ access: { login: 'required' }, upstreams: [] }, { dataDir: data });
    try {
      const basic = `Basic ${Buffer.from('ci:a-long-user-password').toString('base64')}`;
      assert.equal((await request(`${m.url}/v2/`, { headers: { authorization: basic } })).statusCode, 200);
      assert.equal((await request(`${m.url}/v2/`)).statusCode, 401);
    } finally {
      await m.close();
    }
    assert.equal((await run(['user', 'rm', 'ci', '--data-dir', data])).code, 0);
    const again = await run(['user', 'rm', 'ci', '--data-dir', data]);
    assert.equal(again.code, 1);
    assert.match(again.stderr, /no stored user ci/);
    assert.equal((await run(['user', 'add', 'ci', '--data-dir', data])).code, 2, 'the password comes from a file');
    await writeFile(pw, 'short\n');
    assert.equal((await run(['user', 'add', 'ci', '--password-file', pw, '--data-dir', data])).code, 2);
  });

  test('cache gc evicts down to a size now and reports what went', { timeout: 60_000 }, async () => {
    const data = join(dir, 'gc-data');
    const up = await new FakeUpstream().start();
    try {
      up.addImage('library/alpine', '3.20', [Buffer.alloc(5000, 1)]);
      const m = await startMirror({ upstreams: [{ name: 'hub', registry: 'docker.io', url: up.url, default: true }] }, { dataDir: data });
      try {
        const manifest = await request(`${m.url}/v2/alpine/manifests/3.20`);
        const doc = (await manifest.body.json()) as { layers: Array<{ digest: string }> };
        await (await request(`${m.url}/v2/alpine/blobs/${doc.layers[0]?.digest}`)).body.dump();
      } finally {
        await m.close();
      }
      const gc = await run(['cache', 'gc', '--data-dir', data, '--max-size', '1']);
      assert.equal(gc.code, 0, gc.stderr);
      const out = JSON.parse(gc.stdout) as { ran: boolean; evicted: number; blobs: number; bytes: number };
      assert.equal(out.ran, true);
      assert.equal(out.evicted, 1);
      assert.ok(out.bytes >= 5000);
      assert.equal(JSON.parse((await run(['cache', 'stats', '--data-dir', data])).stdout).blobs, 0);
      assert.equal((await run(['cache', 'gc', '--data-dir', data, '--max-size', 'lots'])).code, 2);
    } finally {
      await up.stop();
    }
  });

  test('serve runs the documented example (ports from the environment) and stops cleanly on SIGTERM', { timeout: 60_000 }, async () => {
    const child = spawn(process.execPath, ['--import', 'tsx', main, 'serve', '--config', join(dir, 'pullgate.yaml')], {
      env: { ...process.env, PULLGATE_LISTEN_HTTP: '127.0.0.1:0', PULLGATE_LISTEN_HTTPS: '127.0.0.1:0', PULLGATE_LISTEN_ADMIN: '127.0.0.1:0' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    try {
      let buffered = '';
      const listening = await new Promise<{ http: string; https: string; admin: string }>((resolve, reject) => {
        child.stdout.on('data', (d: Buffer) => {
          buffered += d.toString();
          for (const line of buffered.split('\n')) {
            if (line.includes('"pullgate listening"')) resolve(JSON.parse(line) as { http: string; https: string; admin: string });
          }
        });
        child.on('exit', (code) => reject(new Error(`exited ${code}`)));
      });
      const agent = new Agent({ connect: { ca: caPem, servername: 'hub.mirror.test' } });
      const r = await request(`${listening.https}/v2/`, { dispatcher: agent });
      assert.equal(r.statusCode, 200);
      assert.equal(r.headers['docker-distribution-api-version'], 'registry/2.0');
      await r.body.dump();
      // Nothing here may reach the internet: only /v2/, which is answered locally on a mirror-mode host.
      const plain = await request(`${listening.http}/v2/`, { headers: { host: 'hub.mirror.test' } });
      assert.equal(plain.statusCode, 200);
      await plain.body.dump();
      // The admin listener, with a password generated on first start and shown once in the log.
      const session = await request(`${listening.admin}/api/session`);
      assert.deepEqual(await session.body.json(), { authenticated: false });
      const generated = /admin password generated on first start: ([A-Za-z0-9]{24}) /.exec(buffered)?.[1];
      assert.ok(generated, 'the generated admin password is in the log');
      const login = await request(`${listening.admin}/api/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ password: generated }) });
      assert.equal(login.statusCode, 200);
      await login.body.dump();
      await agent.close();
      const exited = new Promise<number | null>((resolve) => child.on('exit', resolve));
      child.kill('SIGTERM');
      assert.equal(await exited, 0);
    } finally {
      child.kill('SIGKILL');
    }
  });
});
