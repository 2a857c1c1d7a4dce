// Several workers serving one data directory (docs/workers.md), through the real CLI against a real registry whose
// blobs come from a paced CDN: one upstream fetch per blob for the machine, followers in other workers streaming the
// fill while it runs, the admin's metrics summed over the workers, a worker killed mid-fill (nothing partial kept,
// no wrong bytes, a replacement, a later pull that works), and SIGTERM and a restart on the same data directory.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { Client, request } from 'undici';
import { AdminClient } from '../support/admin-client.js';
import { writeLargeBlob, type LargeBlob } from '../support/large-blob.js';
import { startRealRegistry, type RealRegistry } from '../support/real-registry.js';
import { pullOnOwnConnection as pull } from '../support/separate-pull.js';
import { mainScript } from '../support/mirror-process.js';
import { isAlive, spawnWorkers, type WorkersProcess } from '../support/workers-process.js';

const execFileAsync = promisify(execFile);
const workers = 3;
const clients = 12;
const size = 6 << 20;
const adminPassword = 'workers-admin-password';

describe('several workers on one data directory', () => {
  let reg: RealRegistry;
  let dir: string;
  let server: WorkersProcess | undefined;
  const config = () => ({ workers, listen: { http: '127.0.0.1:0', admin: '127.0.0.1:0' }, upstreams: [{ name: 'hub', registry: 'docker.io', url: reg.url, ca: reg.caFile, default: true }] });
  const blobGets = (digest: string) => reg.cdn.requests.filter((r) => r.method === 'GET' && r.path.includes(digest.slice('sha256:'.length)));

  before(async () => {
    reg = await startRealRegistry({ auth: false, cdnBytesPerSecond: 3 << 20 });
    dir = await mkdtemp(join(tmpdir(), 'pullgate-workers-'));
  });
  after(async () => {
    await server?.stop('SIGKILL');
    await reg.stop();
    await rm(dir, { recursive: true, force: true });
  });

  test(`${clients} clients on ${workers} workers pulling one cold blob: one upstream fetch, every stream byte-exact and live`, { timeout: 60_000 }, async () => {
    server = await spawnWorkers(dir, config(), { PULLGATE_ADMIN_PASSWORD: adminPassword });
    assert.equal(new Set(server.workerPids()).size, workers);
    const blob = await writeLargeBlob(reg, 'team/shared', size, 'workers-one-fetch');
    const path = `/v2/team/shared/blobs/${blob.digest}`;
    const filling = () => blobGets(blob.digest).some((r) => !r.completed);
    const pulls = await Promise.all(Array.from({ length: clients }, () => pull(server!.url, path, filling)));
    for (const p of pulls) {
      assert.equal(p.status, 200, p.error);
      assert.equal(p.sha256, blob.digest, `byte-exact (${p.bytes} bytes, ${p.error ?? 'ended'})`);
      assert.ok(p.firstByteWhileFilling, 'the client got bytes while the upstream transfer was still running');
    }
    assert.equal(blobGets(blob.digest).length, 1, 'exactly one upstream fetch for the machine');
    // Access lines come through the workers' stdout pipes, each at its own pace.
    const accessLines = () => server!.lines().filter((l) => l.msg === 'request' && String(l.url).includes(blob.digest) && l.status === 200);
    for (const deadline = Date.now() + 5000; accessLines().length < clients && Date.now() < deadline; ) await new Promise((r) => setTimeout(r, 20));
    const servedBy = new Set(accessLines().map((l) => l.pid));
    assert.ok(servedBy.size >= 2, `the clients were served by several workers (${[...servedBy].join(', ')})`);
    assert.ok(accessLines().some((l) => l.cache === 'PEER'), 'a worker followed another worker\'s fill');

    // The admin (in the lead worker) shows the whole machine: the bytes every worker served.
    const res = await request(`${server.admin}/metrics`);
    const text = await res.body.text();
    const served = text.split('\n').filter((l) => l.startsWith('pullgate_served_bytes_total{')).reduce((sum, l) => sum + Number(l.split(' ').pop()), 0);
    assert.equal(served, clients * size, 'served bytes summed over the workers');
    assert.match(text, new RegExp(`^pullgate_cache_size_bytes\\S* ${size}$`, 'm'), 'the cache size is counted once, not once per worker');
  });

  test('an upstream added through the admin (in the lead worker) is served by every worker', { timeout: 60_000 }, async () => {
    assert.ok(server?.admin);
    const admin = new AdminClient(server.admin);
    assert.equal((await admin.login(adminPassword)).status, 200);
    const created = await admin.call('POST', '/api/upstreams', { name: 'extra', registry: 'extra.example', url: reg.url, caPem: reg.ca.caCertPem, hosts: ['extra.mirror.test'] });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    const blob = await writeLargeBlob(reg, 'team/extra', 64 * 1024, 'workers-admin');
    // Connections of their own, so that every worker answers some of them.
    const answers = await Promise.all(
      Array.from({ length: workers * 3 }, async () => {
        const client = new Client(server!.url);
        try {
          const res = await client.request({ method: 'HEAD', path: `/v2/team/extra/blobs/${blob.digest}`, headers: { host: 'extra.mirror.test' } });
          await res.body.dump();
          return res.statusCode;
        } finally {
          await client.close();
        }
      }),
    );
    assert.deepEqual(answers, answers.map(() => 200));
    const heads = () => server!.lines().filter((l) => l.msg === 'request' && String(l.url).includes(blob.digest));
    for (const deadline = Date.now() + 5000; heads().length < answers.length && Date.now() < deadline; ) await new Promise((r) => setTimeout(r, 20));
    assert.deepEqual(heads().map((l) => l.upstream), answers.map(() => 'extra'), 'every worker routed the host to the new upstream');
    assert.ok(new Set(heads().map((l) => l.pid)).size >= 2, 'answered by several workers');
  });

  test('a worker killed mid-fill: its followers get an error or the right bytes, nothing partial is kept, a later pull succeeds', { timeout: 90_000 }, async () => {
    assert.ok(server);
    const blob: LargeBlob = await writeLargeBlob(reg, 'team/killed', size, 'workers-killed');
    const hex = blob.digest.slice('sha256:'.length);
    const path = `/v2/team/killed/blobs/${blob.digest}`;
    const pulls = Promise.all(Array.from({ length: 6 }, () => pull(server!.url, path, () => true)));
    let owner: number | undefined;
    for (const deadline = Date.now() + 10_000; owner === undefined || (blobGets(blob.digest)[0]?.bytesSent ?? 0) < size / 4; ) {
      assert.ok(Date.now() < deadline, 'the fill started');
      owner = server.leaseHolder(`fills/sha256/${hex}`);
      await new Promise((r) => setTimeout(r, 20));
    }
    process.kill(owner, 'SIGKILL');
    const outcomes = await pulls;
    assert.ok(outcomes.some((p) => p.error !== undefined || p.status !== 200), 'the killed worker\'s own clients saw their transfer fail');
    for (const p of outcomes) {
      if (p.sha256 !== undefined && p.error === undefined && p.bytes === size) assert.equal(p.sha256, blob.digest, 'a completed stream has the right bytes');
      else assert.ok(p.bytes < size || p.status !== 200, 'an interrupted stream is visibly short');
    }
    // The supervisor replaces the worker and removes its temp files; no blob was committed.
    for (const deadline = Date.now() + 20_000; server.workerPids().filter(isAlive).length < workers; ) {
      assert.ok(Date.now() < deadline, 'a replacement worker listens');
      await new Promise((r) => setTimeout(r, 50));
    }
    assert.ok(server.lines().some((l) => l.msg === 'worker died; starting a replacement' && l.pid === owner), 'the supervisor saw the worker die');
    const left = await readdir(join(dir, 'data', 'tmp'));
    assert.deepEqual(left.filter((n) => n.startsWith(`${owner}-`)), [], 'the killed worker left no temp file');
    assert.equal(existsSync(join(dir, 'data', 'blobs', 'sha256', hex.slice(0, 2), hex)), false, 'nothing partial committed');

    const again = await pull(server.url, path, () => true);
    assert.equal(again.status, 200, again.error);
    assert.equal(again.sha256, blob.digest);
  });

  test('SIGTERM stops every worker; a restart on the same data directory serves the cache', { timeout: 60_000 }, async () => {
    assert.ok(server);
    const pids = server.workerPids().filter(isAlive);
    assert.equal(await server.stop('SIGTERM'), 0, 'a clean exit');
    for (const pid of pids) assert.equal(isAlive(pid), false, `worker ${pid} stopped`);
    const cached = (await readdir(join(dir, 'data', 'tmp'))).length;
    assert.equal(cached, 0, 'no temp file after a clean stop');

    server = await spawnWorkers(dir, config(), { PULLGATE_ADMIN_PASSWORD: adminPassword });
    const before = reg.cdn.requests.length;
    const blob = await writeLargeBlob(reg, 'team/shared', size, 'workers-one-fetch');
    const pulls = await Promise.all(Array.from({ length: workers * 2 }, () => pull(server!.url, `/v2/team/shared/blobs/${blob.digest}`, () => false)));
    for (const p of pulls) assert.equal(p.sha256, blob.digest);
    assert.equal(reg.cdn.requests.length, before, 'served from the cache the first run filled');
  });

  test('the HTTPS port (the SNI router) is served by every worker', { timeout: 60_000 }, async () => {
    await server?.stop('SIGTERM');
    const tls = join(dir, 'tls');
    await execFileAsync(process.execPath, ['--import', 'tsx', mainScript, 'cert', 'selfsigned', '--hosts', '127.0.0.1,localhost', '--out', tls]);
    server = await spawnWorkers(dir, { ...config(), listen: { http: '127.0.0.1:0', https: '127.0.0.1:0' }, tls: { certificates: [{ cert: join(tls, 'cert.pem'), key: join(tls, 'key.pem') }] } });
    assert.ok(server.https);
    const ca = await readFile(join(tls, 'ca.pem'), 'utf8');
    const blob = await writeLargeBlob(reg, 'team/shared', size, 'workers-one-fetch');
    const statuses = await Promise.all(
      Array.from({ length: workers * 3 }, async () => {
        const client = new Client(server!.https!, { connect: { ca } });
        try {
          const res = await client.request({ method: 'HEAD', path: `/v2/team/shared/blobs/${blob.digest}` });
          await res.body.dump();
          return res.statusCode;
        } finally {
          await client.close();
        }
      }),
    );
    assert.deepEqual(statuses, statuses.map(() => 200));
    const heads = () => server!.lines().filter((l) => l.msg === 'request' && l.method === 'HEAD' && String(l.url).includes(blob.digest));
    for (const deadline = Date.now() + 5000; heads().length < statuses.length && Date.now() < deadline; ) await new Promise((r) => setTimeout(r, 20));
    assert.ok(new Set(heads().map((l) => l.pid)).size >= 2, 'TLS connections terminated by several workers');
  });
});
