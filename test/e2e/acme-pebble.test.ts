import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { mkdir, mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { connect as tlsConnect } from 'node:tls';
import { Agent, request } from 'undici';
import { renewalTime, validityOf } from '../../src/acme/renewal-policy.js';
import { addHostsBlock, type HostsBlock } from '../support/etc-hosts.js';
import { assertInstalled } from '../support/installed-tools.js';
import { freePort } from '../support/loopback-listener.js';
import { startMirror, type TestMirror } from '../support/mirror-app.js';
import { startPebble, type Pebble } from '../support/pebble.js';
import { spawnWorkers } from '../support/workers-process.js';
import { createTestCa, type TestCa } from '../support/pki.js';

const host = 'hub.acme-e2e.test';
// Resolves to 127.0.0.2, where nothing answers challenges: pebble's validation is refused.
const unreachableHost = 'refused.acme-e2e.test';
// Validated by TLS-ALPN-01 only: a name no earlier test has an authorization for.
const alpnHost = 'alpn.acme-e2e.test';
// Validated by TLS-ALPN-01 on a server of several workers: more validations than workers, so they land on several.
const workers = 3;
const workerHosts = Array.from({ length: workers + 1 }, (_, i) => `w${i}.alpn.acme-e2e.test`);

/** The certificate the HTTPS listener presents for `servername`, and whether it verifies against `ca`. */
function presented(url: string, servername: string, ca: string): Promise<{ cert: X509Certificate; authorized: boolean; error?: string }> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = tlsConnect({ host: hostname, port: Number(port), servername, ca, rejectUnauthorized: false }, () => {
      const error = socket.authorizationError;
      resolve({ cert: socket.getPeerX509Certificate() as X509Certificate, authorized: socket.authorized, ...(error ? { error: String(error) } : {}) });
      socket.end();
    });
    socket.on('error', reject);
  });
}

describe('automatic certificates from an ACME CA (pebble)', { timeout: 180_000 }, () => {
  let dir: string;
  let ca: TestCa;
  let pebble: Pebble;
  let hosts: HostsBlock[] = [];
  let httpPort: number;
  let tlsPort: number;
  let now = Date.now();
  let dataDir: string;

  const config = (acme: Record<string, unknown> = {}) => ({
    listen: { https: '127.0.0.1:0' },
    tls: {
      acme: {
        email: 'ops@example.test',
        directoryUrl: pebble.directoryUrl,
        caBundle: ca.caCertPath,
        httpListen: `127.0.0.1:${httpPort}`,
        termsAgreed: true,
        ...acme,
      },
    },
    upstreams: [{ name: 'hub', registry: 'docker.io', url: 'http://127.0.0.1:9', default: true, hosts: [host] }],
  });

  before(async () => {
    await assertInstalled('pebble', 'setpriv');
    dir = await mkdtemp(join(tmpdir(), 'pullgate-acme-'));
    dataDir = join(dir, 'data');
    ca = await createTestCa(join(dir, 'ca'));
    httpPort = await freePort();
    tlsPort = await freePort();
    hosts = [await addHostsBlock([host, alpnHost, ...workerHosts]), await addHostsBlock([unreachableHost], '127.0.0.2')];
    pebble = await startPebble({ dir, ca, httpPort, tlsPort });
  });
  after(async () => {
    await pebble?.stop();
    for (const h of hosts) await h.remove();
    await rm(dir, { recursive: true, force: true });
  });

  test('answers HTTP-01, stores the certificate in the data directory and serves it without a restart', async () => {
    const root = await pebble.rootPem();
    const mirror = await startMirror(config(), { dataDir, clock: () => now });
    try {
      // Before the CA has answered: a self-signed placeholder for the host, which no client trusts.
      const before = await presented(mirror.httpsUrl!, host, root);
      assert.equal(before.authorized, false);
      assert.match(before.cert.subjectAltName ?? '', new RegExp(`DNS:${host.replace(/\./g, '\\.')}`));

      await mirror.app.acme!.check();
      assert.ok(mirror.app.acme!.responder.answered >= 1, 'pebble fetched the HTTP-01 answer');
      const after = await presented(mirror.httpsUrl!, host, root);
      assert.equal(after.authorized, true, after.error);
      assert.ok(after.cert.checkHost(host));
      assert.match(after.cert.issuer, /Pebble Intermediate CA/);

      const agent = new Agent({ connect: { ca: root, servername: host } });
      const r = await request(`${mirror.httpsUrl!}/v2/`, { dispatcher: agent });
      assert.equal(r.statusCode, 200);
      await r.body.dump();
      await agent.close();

      assert.equal((await stat(join(dataDir, 'certs', host, 'privkey.pem'))).mode & 0o777, 0o600);
      assert.equal((await stat(join(dataDir, 'acme', 'account-key.pem'))).mode & 0o777, 0o600);
      assert.ok(!mirror.logs.some((l) => l.includes('PRIVATE KEY')), 'no key material in the logs');
    } finally {
      await mirror.close();
    }
  });

  test('a restart serves the stored certificate at once and orders nothing while it is fresh', async () => {
    const mirror = await startMirror(config(), { dataDir, clock: () => now });
    try {
      const root = await pebble.rootPem();
      const served = await presented(mirror.httpsUrl!, host, root);
      assert.equal(served.authorized, true, served.error);
      await mirror.app.acme!.check();
      assert.equal(mirror.app.acme!.responder.answered, 0);
      assert.equal((await presented(mirror.httpsUrl!, host, root)).cert.serialNumber, served.cert.serialNumber);
    } finally {
      await mirror.close();
    }
  });

  test('two thirds into its lifetime the certificate is renewed and the listener serves the new one', async () => {
    const mirror = await startMirror(config(), { dataDir, clock: () => now });
    try {
      const root = await pebble.rootPem();
      const first = await presented(mirror.httpsUrl!, host, root);
      const renewAt = renewalTime(validityOf(first.cert.toString()));
      now = renewAt - 60_000;
      await mirror.app.acme!.check();
      assert.equal((await presented(mirror.httpsUrl!, host, root)).cert.serialNumber, first.cert.serialNumber, 'not renewed early');
      now = renewAt + 60_000;
      await mirror.app.acme!.check();
      assert.ok(mirror.app.acme!.responder.answered >= 1, 'the renewal answered a new challenge');
      const renewed = await presented(mirror.httpsUrl!, host, root);
      assert.equal(renewed.authorized, true, renewed.error);
      assert.notEqual(renewed.cert.serialNumber, first.cert.serialNumber);
    } finally {
      now = Date.now();
      await mirror.close();
    }
  });

  test('a failed validation is reported with the host and leaves the placeholder in place', async () => {
    const mirror = await startMirror(config({ hosts: [unreachableHost] }), { clock: () => now });
    try {
      await assert.rejects(mirror.app.acme!.check(), /could not be obtained/);
      const line = mirror.logs.find((l) => l.includes('cannot obtain an ACME certificate'));
      assert.ok(line, 'the failure is logged');
      assert.match(line, new RegExp(`${unreachableHost.replace(/\./g, '\\.')}: http-01 validation failed`));
      const served = await presented(mirror.httpsUrl!, unreachableHost, await pebble.rootPem());
      assert.equal(served.authorized, false);
      assert.ok(served.cert.checkHost(unreachableHost));
    } finally {
      await mirror.close();
    }
  });

  test('an unreachable ACME directory is logged as one line naming the host and the cause', async () => {
    const closed = await freePort();
    const mirror = await startMirror(config({ directoryUrl: `https://127.0.0.1:${closed}/dir` }), { clock: () => now });
    try {
      await assert.rejects(mirror.app.acme!.check(), /could not be obtained/);
      const line = mirror.logs.find((l) => l.includes('cannot obtain an ACME certificate'));
      assert.ok(line, 'the failure is logged');
      assert.match(line, new RegExp(`${host.replace(/\./g, '\\.')}: cannot reach the ACME directory https://127\\.0\\.0\\.1:${closed}/dir: ECONNREFUSED`));
      assert.ok(!/httpsAgent|PRIVATE KEY/.test(line), 'no client internals or key material in the log');
    } finally {
      await mirror.close();
    }
  });

  test('TLS-ALPN-01 is answered by the HTTPS listener itself, which then serves the issued certificate', async () => {
    const root = await pebble.rootPem();
    // Pebble validates on tlsPort: the HTTPS listener has to be there.
    const mirror = await startMirror({ ...config({ challenge: 'tls-alpn-01', hosts: [alpnHost] }), listen: { https: `127.0.0.1:${tlsPort}` } }, { clock: () => now });
    try {
      await mirror.app.acme!.check().catch((err: unknown) => assert.fail(`${String(err)}\n${mirror.logs.filter((l) => l.includes('"level":50')).join('\n')}`));
      const served = await presented(mirror.httpsUrl!, alpnHost, root);
      assert.equal(served.authorized, true, served.error);
      assert.ok(served.cert.checkHost(alpnHost));
      assert.match(served.cert.issuer, /Pebble Intermediate CA/);
      // No HTTP-01 listener ran: the validation was a TLS handshake.
      assert.equal(mirror.app.acme!.responder.answered, 0);
      assert.ok(!mirror.logs.some((l) => l.includes('answered an HTTP-01 challenge')));
    } finally {
      await mirror.close();
    }
  });

  test(`TLS-ALPN-01 with ${workers} workers: a validation landing on any worker is answered, and every worker serves the issued certificates`, async () => {
    const root = await pebble.rootPem();
    const acme = { ...config({ challenge: 'tls-alpn-01', hosts: workerHosts }).tls.acme };
    await mkdir(join(dir, 'workers'));
    const server = await spawnWorkers(join(dir, 'workers'), { workers, listen: { https: `127.0.0.1:${tlsPort}` }, tls: { acme }, upstreams: config().upstreams });
    try {
      const installed = () => server.lines().filter((l) => l.msg === 'ACME certificate installed').map((l) => l.host);
      for (const deadline = Date.now() + 90_000; installed().length < workerHosts.length; ) {
        const failed = server.lines().find((l) => l.msg === 'cannot obtain an ACME certificate; serving the previous one and retrying');
        assert.ok(!failed, `every validation answered: ${JSON.stringify(failed)}`);
        assert.ok(Date.now() < deadline, `every certificate installed (${installed().join(', ')})`);
        await new Promise((r) => setTimeout(r, 100));
      }
      const lead = (server.lines().find((l) => l.msg === 'pullgate workers listening')!.pids as number[])[0];
      const answeredBy = server.lines().filter((l) => l.msg === 'answered a TLS-ALPN-01 challenge').map((l) => l.pid as number);
      assert.ok(answeredBy.some((pid) => pid !== lead), `validations answered by workers other than the lead (${lead}): ${answeredBy.join(', ')}`);
      // Every worker serves every issued certificate (the lead announced them): connections of their own spread over the workers.
      for (const h of workerHosts) {
        for (let i = 0; i < workers; i++) {
          const served = await presented(server.https!, h, root);
          assert.equal(served.authorized, true, `${h}, connection ${i}: ${served.error ?? ''}`);
          assert.ok(served.cert.checkHost(h));
        }
      }
    } finally {
      await server.stop('SIGTERM');
    }
  });
});
