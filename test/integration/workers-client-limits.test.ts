// Per-client limits with several workers (docs/security.md, "Worker processes"): a client's login attempts and
// request rate are counted for the machine, not once per worker, however its connections spread over the workers.
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, afterEach, before, describe, test } from 'node:test';
import { Client } from 'undici';
import { AdminClient } from '../support/admin-client.js';
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

  /** A data directory of its own per test: the counts of one would carry over to the next. */
  const fresh = async (name: string): Promise<string> => {
    await mkdir(join(dir, name));
    return join(dir, name);
  };
  const upstreams = () => [{ name: 'hub', registry: 'docker.io', url: reg.url, ca: reg.caFile, default: true }];

  test('wrong passwords sent on many connections get the login attempts of one client, not one per worker', { timeout: 60_000 }, async () => {
    const users = [{ username: 'alice', passwordHash: await hashPassword('right-password') }];
    server = await spawnWorkers(await fresh('login'), { workers, upstreams: upstreams(), access: { login: 'required', users } });
    const wrong = { authorization: `Basic ${Buffer.from('alice:wrong-password').toString('base64')}` };
    const statuses: number[] = [];
    for (let i = 0; i < 5 * workers; i++) statuses.push(await status(server.url, wrong));
    const checked = statuses.filter((s) => s === 401).length;
    assert.equal(checked, 5, `5 passwords checked for the machine (statuses ${statuses.join(' ')})`);
    assert.deepEqual(statuses.slice(5), statuses.slice(5).map(() => 429));
  });

  test('requests on many connections get the request rate of one client, not one per worker', { timeout: 60_000 }, async () => {
    server = await spawnWorkers(await fresh('rate'), { workers, upstreams: upstreams(), access: { limits: { requestsPerSecond: 0.01, burst: 3 } } });
    const statuses: number[] = [];
    for (let i = 0; i < 4 * workers; i++) statuses.push(await status(server.url));
    assert.equal(statuses.filter((s) => s === 200).length, 3, `the burst of 3 for the machine (statuses ${statuses.join(' ')})`);
  });

  test('a registry user removed through the admin is refused at once by every worker', { timeout: 60_000 }, async () => {
    server = await spawnWorkers(await fresh('removed'), { workers, listen: { http: '127.0.0.1:0', admin: '127.0.0.1:0' }, upstreams: upstreams(), access: { login: 'required' } }, { PULLGATE_ADMIN_PASSWORD: 'limits-admin-password' });
    const admin = new AdminClient(server.admin!);
    assert.equal((await admin.login('limits-admin-password')).status, 200);
    assert.equal((await admin.call('POST', '/api/users', { username: 'bob', password: 'bob-password-1234' })).status, 201);
    const basic = { authorization: `Basic ${Buffer.from('bob:bob-password-1234').toString('base64')}` };
    // Every worker checks and remembers the pair (one request after another, each on a connection of its own, so
    // that they spread over the workers and none is refused for logins at once).
    const before: number[] = [];
    for (let i = 0; i < workers * 3; i++) before.push(await status(server.url, basic));
    assert.deepEqual(before, before.map(() => 200));
    assert.equal((await admin.call('DELETE', '/api/users/bob')).status, 204);
    const afterRemoval: number[] = [];
    for (let i = 0; i < workers * 3; i++) afterRemoval.push(await status(server.url, basic));
    // Refused as a wrong password (401), and once the client used its login attempts, as too many (429).
    assert.deepEqual(afterRemoval.slice(0, 5), [401, 401, 401, 401, 401], 'no worker accepts the removed user');
    assert.deepEqual(afterRemoval.slice(5), afterRemoval.slice(5).map(() => 429));
  });
});
