// Admin changes with several workers (docs/workers.md): the admin (in the lead worker) answers a change once every
// worker applies it, so that the next registry request uses it whichever worker it lands on, as with one process
// ("Add an upstream; the next registry request can use it").
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { Client } from 'undici';
import { AdminClient } from '../support/admin-client.js';
import { writeLargeBlob } from '../support/large-blob.js';
import { startRealRegistry, type RealRegistry } from '../support/real-registry.js';
import { spawnWorkers, type WorkersProcess } from '../support/workers-process.js';

const workers = 3;
const adminPassword = 'admin-changes-password';

describe('admin changes with several workers', () => {
  let reg: RealRegistry;
  let dir: string;
  let server: WorkersProcess;

  before(async () => {
    reg = await startRealRegistry({ auth: false });
    dir = await mkdtemp(join(tmpdir(), 'pullgate-workers-admin-'));
    server = await spawnWorkers(
      dir,
      { workers, listen: { http: '127.0.0.1:0', admin: '127.0.0.1:0' }, upstreams: [{ name: 'hub', registry: 'docker.io', url: reg.url, ca: reg.caFile, default: true }] },
      { PULLGATE_ADMIN_PASSWORD: adminPassword },
    );
  });
  after(async () => {
    await server?.stop('SIGTERM');
    await reg.stop();
    await rm(dir, { recursive: true, force: true });
  });

  test('an upstream the admin added is used by the very next request on every worker', { timeout: 60_000 }, async () => {
    const admin = new AdminClient(server.admin!);
    assert.equal((await admin.login(adminPassword)).status, 200);
    const blob = await writeLargeBlob(reg, 'team/next', 64 * 1024, 'workers-admin-next');
    const path = `/v2/team/next/blobs/${blob.digest}`;
    // Connections opened (and so handed to their workers) before the change, kept alive: the requests after it go
    // straight to their workers, with nothing between the admin's answer and them.
    const clients = Array.from({ length: workers * 3 }, () => new Client(server.url, { pipelining: 1 }));
    try {
      for (const c of clients) assert.equal((await c.request({ method: 'HEAD', path: '/v2/' })).statusCode, 200);
      for (let round = 0; round < 8; round++) {
        const name = `next${round}`;
        const host = `${name}.mirror.test`;
        const created = await admin.call('POST', '/api/upstreams', { name, registry: `${name}.example`, url: reg.url, caPem: reg.ca.caCertPem, hosts: [host] });
        assert.equal(created.status, 201, JSON.stringify(created.body));
        const answers = await Promise.all(clients.map((c) => c.request({ method: 'HEAD', path, headers: { host } }).then((r) => (r.body.resume(), r.statusCode))));
        assert.deepEqual(answers, answers.map(() => 200));
        const heads = () => server.lines().filter((l) => l.msg === 'request' && l.method === 'HEAD' && l.host === host);
        for (const deadline = Date.now() + 5000; heads().length < clients.length && Date.now() < deadline; ) await new Promise((r) => setTimeout(r, 20));
        assert.deepEqual(heads().map((l) => l.upstream), clients.map(() => name), `round ${round}: every worker routed ${host} to the new upstream at once`);
        assert.ok(new Set(heads().map((l) => l.pid)).size >= 2, 'answered by several workers');
      }
    } finally {
      await Promise.all(clients.map((c) => c.close()));
    }
  });
});
