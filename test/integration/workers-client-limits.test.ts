// Per-client limits with several workers (docs/security.md, "Worker processes"): a client's login attempts and
// request rate are counted for the machine, not once per worker, however its connections spread over the workers.
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, afterEach, before, describe, test } from 'node:test';
import { Client } from 'undici';
import { hashPassword } from '../../src/access/password.js';
import { startRealRegistry, type RealRegistry } from '../support/real-registry.js';
import { spawnWorkers, type WorkersProcess } from '../support/workers-process.js';

const workers = 3;

/** One request on a connection of its own, so that the requests spread over the workers. */
async function status(url: string, headers: Record<string, string> = {}): Promise<number> {
  const client = new Client(url);
  try {
    const res = await client.request({ method: 'GET', path: '/v2/', headers });
    await res.body.dump();
    return res.statusCode;
  } finally {
    await client.close();
  }
}

describe('per-client limits over several workers', () => {
  let reg: RealRegistry;
  let dir: string;
  let server: WorkersProcess | undefined;

  before(async () => {
    reg = await startRealRegistry({ auth: false });
    dir = await mkdtemp(join(tmpdir(), 'pullgate-workers-limits-'));
  });
  // Each test stops its server, failed or not (a server left running would keep this file from ending).
  afterEach(async () => {
    await server?.stop('SIGTERM');
    server = undefined;
  });
  after(async () => {
    await reg.stop();
    await rm(dir, { recursive: true, force: true });
  });

  const upstreams = () => [{ name: 'hub', registry: 'docker.io', url: reg.url, ca: reg.caFile, default: true }];

  test('wrong passwords sent on many connections get the login attempts of one client, not one per worker', { timeout: 60_000 }, async () => {
    const users = [{ username: 'alice', passwordHash: await hashPassword('right-password') }];
    server = await spawnWorkers(dir, { workers, upstreams: upstreams(), access: { login: 'required', users } });
    const wrong = { authorization: `Basic ${Buffer.from('alice:wrong-password').toString('base64')}` };
    const statuses: number[] = [];
    for (let i = 0; i < 5 * workers; i++) statuses.push(await status(server.url, wrong));
    const checked = statuses.filter((s) => s === 401).length;
    assert.equal(checked, 5, `5 passwords checked for the machine (statuses ${statuses.join(' ')})`);
    assert.deepEqual(statuses.slice(5), statuses.slice(5).map(() => 429));
  });

  test('requests on many connections get the request rate of one client, not one per worker', { timeout: 60_000 }, async () => {
    server = await spawnWorkers(dir, { workers, upstreams: upstreams(), access: { limits: { requestsPerSecond: 0.01, burst: 3 } } });
    const statuses: number[] = [];
    for (let i = 0; i < 4 * workers; i++) statuses.push(await status(server.url));
    assert.equal(statuses.filter((s) => s === 200).length, 3, `the burst of 3 for the machine (statuses ${statuses.join(' ')})`);
  });
});
