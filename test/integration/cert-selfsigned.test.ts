import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { connect as tlsConnect } from 'node:tls';
import { fileURLToPath } from 'node:url';
import { parse as parseYaml } from 'yaml';
import { startMirror } from '../support/mirror-app.js';

const main = fileURLToPath(new URL('../../src/main.ts', import.meta.url));

function run(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, ['--import', 'tsx', main, ...args], (err, stdout, stderr) => {
      resolve({ code: err ? Number((err as { code?: unknown }).code ?? 1) : 0, stdout, stderr });
    });
  });
}

interface SelfsignedJson {
  hosts: string[];
  caReused: boolean;
  files: { ca: string; caKey: string; cert: string; key: string };
  config: string;
  trust: { linux: string[]; docker: string[]; containerd: string[]; podman: string[] };
}

/** A verified handshake (the CA as the only trust anchor) and the certificate the server presented. */
function verifiedHandshake(url: string, servername: string, ca: string): Promise<X509Certificate> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = tlsConnect({ host: hostname, port: Number(port), servername, ca }, () => {
      resolve(socket.getPeerX509Certificate() as X509Certificate);
      socket.end();
    });
    socket.on('error', reject);
  });
}

describe('pullgate cert selfsigned', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'pullgate-selfsigned-'));
  });
  after(() => rm(dir, { recursive: true, force: true }));

  test('prints the config and trust lines for every host and writes private keys readable by the owner only', async () => {
    const out = join(dir, 'text');
    const r = await run(['cert', 'selfsigned', '--hosts', 'hub.mirror.test,gcr.mirror.test', '--out', out, '--port', '5443']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /Created a development CA .*ca\.pem and a certificate for hub\.mirror\.test, gcr\.mirror\.test/);
    assert.match(r.stdout, new RegExp(`- cert: ${join(out, 'cert.pem')}\\n\\s+key: ${join(out, 'key.pem')}`));
    assert.match(r.stdout, /update-ca-certificates/);
    assert.match(r.stdout, /\/etc\/docker\/certs\.d\/gcr\.mirror\.test:5443\/ca\.crt/);
    assert.match(r.stdout, /\[host\."https:\/\/hub\.mirror\.test:5443"\]\n\s+capabilities = \["pull", "resolve"\]\n\s+ca = ".*ca\.pem"/);
    assert.match(r.stdout, /\/etc\/containers\/certs\.d\/hub\.mirror\.test:5443\/ca\.crt/);
    assert.equal((await stat(join(out, 'ca-key.pem'))).mode & 0o777, 0o600);
    assert.equal((await stat(join(out, 'key.pem'))).mode & 0o777, 0o600);
  });

  test('--json is parseable and the printed config serves a certificate that verifies against the CA', async () => {
    const out = join(dir, 'json');
    const r = await run(['cert', 'selfsigned', '--hosts', 'a.mirror.test,127.0.0.1', '--out', out, '--json']);
    assert.equal(r.code, 0, r.stderr);
    const result = JSON.parse(r.stdout) as SelfsignedJson;
    assert.deepEqual(result.hosts, ['a.mirror.test', '127.0.0.1']);
    assert.equal(result.caReused, false);
    const caPem = await readFile(result.files.ca, 'utf8');
    const tls = (parseYaml(result.config) as { tls: Record<string, unknown> }).tls;
    const mirror = await startMirror({
      listen: { https: '127.0.0.1:0' },
      tls,
      upstreams: [{ name: 'hub', registry: 'docker.io', url: 'http://127.0.0.1:9', default: true }],
    });
    try {
      const served = await verifiedHandshake(mirror.httpsUrl!, 'a.mirror.test', caPem);
      assert.match(served.subjectAltName ?? '', /DNS:a\.mirror\.test, IP Address:127\.0\.0\.1/);
      assert.ok(served.checkIssued(new X509Certificate(caPem)));
      // A name the certificate does not hold fails verification: the SANs are what the CA vouches for.
      await assert.rejects(verifiedHandshake(mirror.httpsUrl!, 'other.mirror.test', caPem), /altnames|Hostname\/IP does not match/);
    } finally {
      await mirror.close();
    }
  });

  test('a second run reuses the CA in the directory, so clients that trust it trust the new certificate', async () => {
    const out = join(dir, 'reuse');
    const first = JSON.parse((await run(['cert', 'selfsigned', '--hosts', 'one.test', '--out', out, '--json'])).stdout) as SelfsignedJson;
    const caBefore = await readFile(first.files.ca, 'utf8');
    const second = await run(['cert', 'selfsigned', '--hosts', 'two.test', '--out', out, '--json']);
    assert.equal(second.code, 0, second.stderr);
    assert.equal((JSON.parse(second.stdout) as SelfsignedJson).caReused, true);
    assert.equal(await readFile(first.files.ca, 'utf8'), caBefore);
    const leaf = new X509Certificate(await readFile(first.files.cert, 'utf8'));
    assert.match(leaf.subjectAltName ?? '', /DNS:two\.test/);
    assert.ok(leaf.checkIssued(new X509Certificate(caBefore)));
  });

  test('bad input exits 2 with a clear message and writes nothing', async () => {
    const out = join(dir, 'bad');
    const badHost = await run(['cert', 'selfsigned', '--hosts', 'good.test,Bad_Host', '--out', out]);
    assert.equal(badHost.code, 2);
    assert.match(badHost.stderr, /--hosts: not a hostname or IP address: bad_host/);
    const badDays = await run(['cert', 'selfsigned', '--hosts', 'good.test', '--out', out, '--days', 'soon']);
    assert.equal(badDays.code, 2);
    assert.match(badDays.stderr, /--days: expected a whole number/);
    await assert.rejects(stat(out), /ENOENT/);
    const notCa = join(dir, 'not-ca');
    await run(['cert', 'selfsigned', '--hosts', 'x.test', '--out', notCa]);
    await writeFile(join(notCa, 'ca.pem'), await readFile(join(notCa, 'cert.pem')));
    const foreign = await run(['cert', 'selfsigned', '--hosts', 'x.test', '--out', notCa]);
    assert.equal(foreign.code, 2);
    assert.match(foreign.stderr, /is not a development CA this command can sign with/);
  });

  test('--help describes the command', async () => {
    const r = await run(['cert', 'selfsigned', '--help']);
    assert.equal(r.code, 0);
    assert.match(r.stdout, /--hosts <names>/);
    assert.match(r.stdout, /--json/);
  });
});
