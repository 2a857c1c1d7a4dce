// The admin's live activity with several workers (docs/workers.md): the admin lives in the lead worker, and its
// feed shows what every worker does, the requests they finished and the fills they have in flight, one entry per
// blob however many workers follow its fill.
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { Client } from 'undici';
import { AdminClient } from '../support/admin-client.js';
import { writeLargeBlob, type LargeBlob } from '../support/large-blob.js';
import { startRealRegistry, type RealRegistry } from '../support/real-registry.js';
import { spawnWorkers, type WorkersProcess } from '../support/workers-process.js';

const workers = 3;
const adminPassword = 'activity-admin-password';

interface Snapshot {
  fills: Array<{ digest: string; followers: number; bytesDone: number }>;
  recent: Array<{ reference?: string; status: number; bytes: number; repository?: string }>;
}

/** A GET on a connection of its own (so that the requests spread over the workers), read to its end. */
async function pull(url: string, path: string): Promise<{ status: number; bytes: number }> {
  const client = new Client(url);
  try {
    const res = await client.request({ method: 'GET', path });
    let bytes = 0;
    for await (const chunk of res.body as AsyncIterable<Buffer>) bytes += chunk.length;
    return { status: res.statusCode, bytes };
  } finally {
    await client.close();
  }
}

async function until(what: () => boolean | Promise<boolean>, message: string, ms = 15_000): Promise<void> {
  for (const deadline = Date.now() + ms; !(await what()); ) {
    assert.ok(Date.now() < deadline, message);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('the admin\'s activity with several workers', () => {
  let reg: RealRegistry;
  let dir: string;
  let server: WorkersProcess;
  let admin: AdminClient;
  /** Written one after another: their temp names are by the millisecond. */
  const blobs = async (repository: string, n: number, size: number): Promise<LargeBlob[]> => {
    const written: LargeBlob[] = [];
    for (let i = 0; i < n; i++) written.push(await writeLargeBlob(reg, repository, size, `activity-${repository}-${i}`));
    return written;
  };
  const snapshot = async (): Promise<Snapshot> => {
    const res = await admin.call<Snapshot>('GET', '/api/activity');
    assert.equal(res.status, 200);
    return res.body;
  };

  before(async () => {
    reg = await startRealRegistry({ auth: false, cdnBytesPerSecond: 2 << 20 });
    dir = await mkdtemp(join(tmpdir(), 'pullgate-workers-activity-'));
    server = await spawnWorkers(
      dir,
      { workers, listen: { http: '127.0.0.1:0', admin: '127.0.0.1:0' }, upstreams: [{ name: 'hub', registry: 'docker.io', url: reg.url, ca: reg.caFile, default: true }] },
      { PULLGATE_ADMIN_PASSWORD: adminPassword },
    );
    admin = new AdminClient(server.admin!);
    assert.equal((await admin.login(adminPassword)).status, 200);
  });
  after(async () => {
    await server?.stop('SIGTERM');
    await reg.stop();
    await rm(dir, { recursive: true, force: true });
  });

  test('requests served by workers other than the lead appear in the admin\'s recent requests', { timeout: 60_000 }, async () => {
    const pulled = await blobs('team/recent', workers * 2, 64 * 1024);
    for (const b of pulled) assert.deepEqual(await pull(server.url, `/v2/team/recent/blobs/${b.digest}`), { status: 200, bytes: b.size });
    const lead = server.lines().find((l) => l.msg === 'pullgate workers listening')!.pids as number[];
    const servedBy = () => server.lines().filter((l) => l.msg === 'request' && pulled.some((b) => String(l.url).includes(b.digest)));
    await until(() => servedBy().length === pulled.length, 'every request logged');
    assert.ok(
      servedBy().some((l) => l.pid !== lead[0]),
      `some were served by a worker other than the lead (${lead[0]}): ${servedBy().map((l) => l.pid).join(', ')}`,
    );
    let recent: Snapshot['recent'] = [];
    await until(async () => {
      recent = (await snapshot()).recent;
      return pulled.every((b) => recent.some((r) => r.reference === b.digest));
    }, 'every pull is in the admin\'s recent requests');
    for (const b of pulled) {
      const shown = recent.filter((r) => r.reference === b.digest);
      assert.equal(shown.length, 1, `${b.digest} shown once`);
      assert.deepEqual([shown[0]!.status, shown[0]!.bytes, shown[0]!.repository], [200, b.size, 'team/recent']);
    }
  });

  test('fills in flight in every worker appear in the admin\'s activity, once per blob however many workers follow it', { timeout: 60_000 }, async () => {
    const cold = await blobs('team/inflight', workers, 8 << 20);
    // One client per blob, then more for the first blob: its fill is followed by other workers than its holder's.
    const pulls = cold.map((b) => pull(server.url, `/v2/team/inflight/blobs/${b.digest}`));
    for (let i = 1; i < workers; i++) pulls.push(pull(server.url, `/v2/team/inflight/blobs/${cold[0]!.digest}`));
    const filling = () => server.lines().filter((l) => l.msg === 'request' && cold.some((b) => String(l.url).includes(b.digest)));
    let seen: Snapshot['fills'] = [];
    await until(async () => {
      seen = (await snapshot()).fills;
      return cold.every((b) => seen.some((f) => f.digest === b.digest));
    }, 'every worker\'s fill shown while it runs');
    assert.equal(filling().length, 0, 'shown while the transfers were still running');
    const lead = (server.lines().find((l) => l.msg === 'pullgate workers listening')!.pids as number[])[0];
    const holders = cold.map((b) => server.leaseHolder(`fills/sha256/${b.digest.slice('sha256:'.length)}`));
    assert.ok(holders.some((pid) => pid !== undefined && pid !== lead), `some fills are held by workers other than the lead (${lead}): ${holders.join(', ')}`);
    for (const b of cold) assert.equal(seen.filter((f) => f.digest === b.digest).length, 1, `${b.digest} shown once`);
    for (const p of await Promise.all(pulls)) assert.equal(p.status, 200);
    await until(async () => (await snapshot()).fills.length === 0, 'no fill shown once they are over');
  });
});
