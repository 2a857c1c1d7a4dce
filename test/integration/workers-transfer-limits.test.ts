// A client's blob transfers at once (access.limits.concurrentTransfers) with several workers (docs/security.md,
// "Worker processes"): counted for the machine, as rows of workers.db, however the client's connections spread over
// the workers. A transfer over its limit gets what one process answers (429 TOOMANYREQUESTS, Retry-After); a client
// that hangs up mid-transfer, over HTTP/1.1 or h2, gives its slot back; a worker killed with slots gives them back.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { after, afterEach, before, describe, test } from 'node:test';
import Database from 'better-sqlite3';
import { Client } from 'undici';
import { writeLargeBlob, type LargeBlob } from '../support/large-blob.js';
import { mainScript } from '../support/mirror-process.js';
import { startRealRegistry, type RealRegistry } from '../support/real-registry.js';
import { isAlive, spawnWorkers, type WorkersProcess } from '../support/workers-process.js';

const execFileAsync = promisify(execFile);
const workers = 3;
const limit = 2;
/** At the CDN's pace below, a cold fill of this size takes about four seconds. */
const size = 8 << 20;

/** The transfer slots held now (by every worker, or by one pid), read from the workers' shared file. */
function slotsHeld(dataDir: string, pid?: number): Array<{ pid: number; client: string }> {
  const db = new Database(join(dataDir, 'workers.db'), { readonly: true, fileMustExist: true });
  try {
    const rows = db.prepare('SELECT pid, client FROM transfer_slots').all() as Array<{ pid: number; client: string }>;
    return pid === undefined ? rows : rows.filter((r) => r.pid === pid);
  } finally {
    db.close();
  }
}

async function until(what: () => boolean, message: string, ms = 15_000): Promise<void> {
  for (const deadline = Date.now() + ms; !what(); ) {
    assert.ok(Date.now() < deadline, message);
    await new Promise((r) => setTimeout(r, 20));
  }
}

interface Transfer {
  status: number;
  bytes: number;
  headers: Record<string, string | string[] | undefined>;
  body?: string;
}

/** A GET on a connection of its own (so that the transfers spread over the workers), read to its end. */
async function transfer(url: string, path: string): Promise<Transfer> {
  const client = new Client(url);
  try {
    const res = await client.request({ method: 'GET', path });
    if (res.statusCode !== 200) return { status: res.statusCode, bytes: 0, headers: res.headers, body: await res.body.text() };
    let bytes = 0;
    for await (const chunk of res.body as AsyncIterable<Buffer>) bytes += chunk.length;
    return { status: res.statusCode, bytes, headers: res.headers };
  } finally {
    await client.close();
  }
}

describe('transfers at once over several workers', () => {
  let reg: RealRegistry;
  let dir: string;
  let server: WorkersProcess | undefined;
  afterEach(async () => {
    await server?.stop('SIGTERM');
    server = undefined;
  });

  before(async () => {
    reg = await startRealRegistry({ auth: false, cdnBytesPerSecond: 2 << 20 });
    dir = await mkdtemp(join(tmpdir(), 'pullgate-workers-transfers-'));
  });
  after(async () => {
    await server?.stop('SIGKILL');
    await reg.stop();
    await rm(dir, { recursive: true, force: true });
  });

  const start = async (name: string, listen: Record<string, string> = { http: '127.0.0.1:0' }, extra: Record<string, unknown> = {}): Promise<{ server: WorkersProcess; dataDir: string }> => {
    await mkdir(join(dir, name));
    const s = await spawnWorkers(join(dir, name), {
      workers,
      listen,
      access: { limits: { concurrentTransfers: limit } },
      upstreams: [{ name: 'hub', registry: 'docker.io', url: reg.url, ca: reg.caFile, default: true }],
      ...extra,
    });
    return { server: s, dataDir: join(dir, name, 'data') };
  };
  /** Cold blobs of `repository`, one per seed (written one after another: their temp names are by the millisecond). */
  const blobs = async (repository: string, seeds: string[]): Promise<LargeBlob[]> => {
    const written: LargeBlob[] = [];
    for (const seed of seeds) written.push(await writeLargeBlob(reg, repository, size, `transfers-${repository}-${seed}`));
    return written;
  };
  const refusalLine = (s: WorkersProcess, digest: string) => s.lines().find((l) => l.msg === 'request' && l.status === 429 && String(l.url).includes(digest));

  test(`with a limit of ${limit} on ${workers} workers, a client's third transfer at once gets what one process answers`, { timeout: 60_000 }, async () => {
    const started = await start('third');
    server = started.server;
    const [first, second, third] = await blobs('team/limits', ['one', 'two', 'three']);
    const running = [first!, second!].map((b) => transfer(server!.url, `/v2/team/limits/blobs/${b.digest}`));
    await until(() => slotsHeld(started.dataDir).length === limit, `${limit} transfer slots taken in workers.db`);
    const holders = slotsHeld(started.dataDir).map((r) => r.pid);

    const refused = await transfer(server.url, `/v2/team/limits/blobs/${third!.digest}`);
    assert.equal(refused.status, 429, refused.body);
    assert.equal(refused.headers['retry-after'], '1');
    assert.equal((JSON.parse(refused.body!) as { errors: Array<{ code: string }> }).errors[0]?.code, 'TOOMANYREQUESTS');
    await until(() => refusalLine(server!, third!.digest) !== undefined, 'the refusal is logged');
    const refusedBy = refusalLine(server, third!.digest)!.pid as number;
    assert.ok(
      holders.filter((p) => p === refusedBy).length < limit,
      `refused by a worker holding fewer than ${limit} of the client's transfers itself (holders ${holders.join(', ')}; refused by ${refusedBy})`,
    );

    for (const r of await Promise.all(running)) assert.deepEqual([r.status, r.bytes], [200, size]);
    await until(() => slotsHeld(started.dataDir).length === 0, 'every slot given back once the transfers are over');
    const later = await transfer(server.url, `/v2/team/limits/blobs/${third!.digest}`);
    assert.deepEqual([later.status, later.bytes], [200, size], 'once a transfer is over the client may start another');
  });

  test('a client that hangs up mid-transfer, over HTTP/1.1 or h2, gives its slot back', { timeout: 60_000 }, async () => {
    const tls = join(dir, 'tls');
    await execFileAsync(process.execPath, ['--import', 'tsx', mainScript, 'cert', 'selfsigned', '--hosts', '127.0.0.1,localhost', '--out', tls]);
    const started = await start('hang-up', { http: '127.0.0.1:0', https: '127.0.0.1:0' }, { tls: { certificates: [{ cert: join(tls, 'cert.pem'), key: join(tls, 'key.pem') }] } });
    server = started.server;
    const ca = await readFile(join(tls, 'ca.pem'), 'utf8');
    // Cached first: a hang-up then ends the transfer at once (a fill in progress would keep its slot until it is over).
    const blob = await writeLargeBlob(reg, 'team/hangup', 32 << 20, 'transfers-hangup');
    const path = `/v2/team/hangup/blobs/${blob.digest}`;
    assert.equal((await transfer(server.url, path)).bytes, blob.size);

    const h2 = new Client(server.https!, { connect: { ca }, allowH2: true });
    try {
      // More hang-ups than the limit on each protocol, one after another: a slot that leaked would refuse the rest.
      for (let i = 0; i < workers * limit; i++) {
        for (const protocol of ['http/1.1', 'h2'] as const) {
          const client: Client = protocol === 'h2' ? h2 : new Client(server.url);
          const res = await client.request({ method: 'GET', path });
          assert.equal(res.statusCode, 200, `${protocol} hang-up ${i}: admitted`);
          assert.ok(slotsHeld(started.dataDir).length >= 1, 'the transfer holds a slot');
          for await (const chunk of res.body as AsyncIterable<Buffer>) if (chunk.length) break; // hangs up mid-body
          if (protocol === 'http/1.1') await client.destroy();
          await until(() => slotsHeld(started.dataDir).length === 0, `${protocol} hang-up ${i}: its slot is given back`, 5_000);
        }
      }
      const h2Lines = () => server!.lines().filter((l) => l.msg === 'request' && String(l.url) === path && l.http === '2.0');
      await until(() => h2Lines().length === workers * limit, 'the h2 hang-ups were served over h2');
    } finally {
      await h2.close().catch(() => undefined);
    }
    const both = await Promise.all([transfer(server.url, path), transfer(server.url, path)]);
    assert.deepEqual(both.map((r) => r.bytes), [blob.size, blob.size], `the client still has its ${limit} transfers at once`);
  });

  test('a worker killed while it holds a transfer slot gives it back; the client may start another at once', { timeout: 60_000 }, async () => {
    const started = await start('killed');
    server = started.server;
    const [a, b, c] = await blobs('team/killed', ['a', 'b', 'c']);
    const running = [a!, b!].map((blob) => transfer(server!.url, `/v2/team/killed/blobs/${blob.digest}`).catch((err: Error) => err));
    await until(() => slotsHeld(started.dataDir).length === limit, `${limit} transfer slots taken in workers.db`);
    const [victim, survivor] = slotsHeld(started.dataDir).map((r) => r.pid) as [number, number];
    process.kill(victim, 'SIGKILL');
    await until(() => !isAlive(victim) && slotsHeld(started.dataDir, victim).length === 0, 'the killed worker\'s slot is given back');
    assert.equal(slotsHeld(started.dataDir).length, 1, 'the other transfer still holds its slot');
    assert.ok(survivor > 0);
    const another = await transfer(server.url, `/v2/team/killed/blobs/${c!.digest}`);
    assert.deepEqual([another.status, another.bytes], [200, size], 'a transfer in the killed one\'s place is admitted');
    await Promise.all(running);
    await until(() => slotsHeld(started.dataDir).length === 0, 'every slot given back');
  });
});
