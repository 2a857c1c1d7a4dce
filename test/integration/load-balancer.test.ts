// The test load balancer (test/support/load-balancer.ts, Debian's nginx) against two tiny HTTP backends named good
// and other: it spreads requests, streams, skips a backend that refuses connections, never retries a started
// response elsewhere (a client sees an aborted body), keeps connections to the backends alive, and passes TLS
// through untouched. The 3-replica e2e tests rely on each of these.
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { connect as tlsConnect } from 'node:tls';
import { Agent, request } from 'undici';
import { assertInstalled } from '../support/installed-tools.js';
import { startLoadBalancer, type LoadBalancer } from '../support/load-balancer.js';
import { freePort } from '../support/loopback-listener.js';
import { createTestCa } from '../support/pki.js';

interface Backend {
  name: string;
  address: string;
  server: Server;
  /** Requests received, by path. */
  hits: Map<string, number>;
  connections: number;
  close(): Promise<void>;
}

const dieAfterBytes = 64 * 1024;
const announcedBytes = 1024 * 1024;

async function listen(server: Server): Promise<string> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('no TCP address');
  return `127.0.0.1:${address.port}`;
}

/** `/who` names the backend; `/stream` sends a line, waits for `release()`, sends another; `/die` stops mid-body. */
async function startBackend(name: string, released: () => Promise<void>): Promise<Backend> {
  const hits = new Map<string, number>();
  const handler = (req: IncomingMessage, res: ServerResponse): void => {
    const path = req.url ?? '';
    hits.set(path, (hits.get(path) ?? 0) + 1);
    if (path === '/stream') {
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.write('first\n');
      void released().then(() => res.end('second\n'));
      return;
    }
    if (path === '/die') {
      res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': String(announcedBytes) });
      res.write(Buffer.alloc(dieAfterBytes, 7), () => setTimeout(() => res.socket?.destroy(), 50));
      return;
    }
    res.writeHead(200, { 'content-type': 'text/plain', 'x-backend': name });
    res.end(name);
  };
  const server = createServer({ keepAliveTimeout: 60_000 }, handler);
  const backend: Backend = {
    name,
    address: await listen(server),
    server,
    hits,
    connections: 0,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
  server.on('connection', () => void backend.connections++);
  return backend;
}

const get = async (url: string, dispatcher: Agent) => {
  const res = await request(url, { dispatcher });
  return { status: res.statusCode, body: await res.body.text(), backend: res.headers['x-backend'] };
};

describe('the nginx load balancer for replica tests', { timeout: 60_000 }, () => {
  let good: Backend;
  let other: Backend;
  let release: () => void = () => undefined;
  let releasing = new Promise<void>((resolve) => (release = resolve));
  let lb: LoadBalancer;
  let refusing: LoadBalancer;
  let refusedAddress: string;
  let client: Agent;

  before(async () => {
    await assertInstalled('nginx');
    good = await startBackend('good', () => releasing);
    other = await startBackend('other', () => releasing);
    lb = await startLoadBalancer({ backends: [good.address, other.address] });
    // Nobody listens there: connections are refused.
    refusedAddress = `127.0.0.1:${await freePort()}`;
    refusing = await startLoadBalancer({ backends: [refusedAddress, good.address], failTimeoutSeconds: 30 });
    client = new Agent();
  });

  after(async () => {
    release();
    await client?.close();
    await lb?.stop();
    await refusing?.stop();
    await good?.close();
    await other?.close();
  });

  test('requests are spread round-robin, and the access log names the backend that served each one', async () => {
    const answers = [];
    for (let i = 0; i < 10; i++) answers.push(await get(`${lb.url}/who?n=${i}`, client));
    assert.ok(answers.every((a) => a.status === 200));
    assert.deepEqual(answers.filter((a) => a.body === 'good').length, 5);
    assert.deepEqual(answers.filter((a) => a.body === 'other').length, 5);
    const logged = (await lb.requests()).filter((r) => r.uri.startsWith('/who?n='));
    assert.equal(logged.length, 10);
    const byAddress = new Map([[good.address, 'good'], [other.address, 'other']]);
    for (const [i, answer] of answers.entries()) {
      const line = logged.find((r) => r.uri === `/who?n=${i}`);
      assert.ok(line, `request ${i} logged`);
      assert.equal(byAddress.get(line.backend ?? ''), answer.body, `request ${i}: the log names the backend that answered`);
      assert.deepEqual(line.tried, [line.backend]);
      assert.equal(line.status, 200);
      assert.equal(line.method, 'GET');
    }
  });

  test('connections to the backends are kept alive: ten more requests open no new connection', async () => {
    for (let i = 0; i < 2; i++) await get(`${lb.url}/who?warm=${i}`, client);
    const opened = good.connections + other.connections;
    for (let i = 0; i < 10; i++) await get(`${lb.url}/who?again=${i}`, client);
    assert.equal(good.connections + other.connections, opened);
  });

  test('a response streams: the client reads the first line while the backend still holds the rest', async () => {
    const res = await request(`${lb.url}/stream`, { dispatcher: client });
    assert.equal(res.statusCode, 200);
    const reader = res.body[Symbol.asyncIterator]();
    const first = await Promise.race([
      reader.next().then((r) => Buffer.from(r.value as Buffer).toString('utf8')),
      new Promise<string>((_, reject) => setTimeout(() => reject(new Error('no byte before the backend finished: buffered')), 5_000)),
    ]);
    assert.equal(first, 'first\n');
    release();
    let rest = '';
    for (let r = await reader.next(); !r.done; r = await reader.next()) rest += Buffer.from(r.value as Buffer).toString('utf8');
    assert.equal(rest, 'second\n');
    releasing = Promise.resolve();
  });

  test('a backend that refuses connections is skipped: every request is answered by the live one', async () => {
    const answers = [];
    for (let i = 0; i < 6; i++) answers.push(await get(`${refusing.url}/who?skip=${i}`, client));
    assert.deepEqual(answers.map((a) => `${a.status} ${a.body}`), Array(6).fill('200 good'));
    const logged = (await refusing.requests()).filter((r) => r.uri.startsWith('/who?skip='));
    assert.equal(logged.length, 6);
    assert.ok(logged.every((r) => r.backend === good.address));
    assert.ok(
      logged.some((r) => r.tried.length === 2 && r.tried[0] === refusedAddress),
      `the refused backend was tried first at least once: ${JSON.stringify(logged.map((r) => r.tried))}`,
    );
  });

  test('a backend that dies mid-body aborts the client (no clean short end) and is not retried on another', async () => {
    const res = await request(`${lb.url}/die`, { dispatcher: client });
    assert.equal(res.statusCode, 200);
    assert.equal(res.headers['content-length'], String(announcedBytes));
    let received = 0;
    const outcome = await (async () => {
      for await (const chunk of res.body) received += (chunk as Buffer).length;
    })().then(
      () => 'clean end',
      (err: unknown) => `aborted: ${String(err)}`,
    );
    assert.match(outcome, /^aborted/);
    assert.ok(received >= 1 && received < announcedBytes, `received ${received} of ${announcedBytes}`);
    assert.equal((good.hits.get('/die') ?? 0) + (other.hits.get('/die') ?? 0), 1, 'one backend saw the request, none retried it');
    const line = (await lb.requests()).find((r) => r.uri === '/die');
    assert.ok(line);
    assert.equal(line.tried.length, 1);
  });
});

describe('the load balancer passing TLS through', { timeout: 60_000 }, () => {
  let dir: string;
  let lb: LoadBalancer;
  const servers: Array<{ close(): void }> = [];

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'pullgate-lb-tls-'));
    const ca = await createTestCa(dir);
    const backends: string[] = [];
    for (const name of ['good', 'other']) {
      const cert = await ca.issue(name, [`${name}.pullgate.test`], ['127.0.0.1']);
      const server = createHttpsServer({ cert: cert.certPem, key: cert.keyPem }, (_req, res) => res.end(name));
      backends.push(await listen(server as unknown as Server));
      servers.push(server);
    }
    lb = await startLoadBalancer({ backends, tlsBackends: backends });
  });

  after(async () => {
    await lb?.stop();
    for (const s of servers) s.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  test('TLS connections reach each backend untouched: clients see the backend certificates, round-robin', async () => {
    assert.ok(lb.tlsPort !== undefined);
    const seen: string[] = [];
    for (let i = 0; i < 4; i++) {
      const sans = await new Promise<string>((resolve, reject) => {
        const socket = tlsConnect({ host: '127.0.0.1', port: lb.tlsPort, rejectUnauthorized: false, servername: 'mirror.pullgate.test' }, () => {
          const subject = socket.getPeerX509Certificate()?.subjectAltName ?? '';
          socket.end();
          socket.once('close', () => resolve(subject));
        });
        socket.once('error', reject);
      });
      seen.push(sans.includes('good.pullgate.test') ? 'good' : sans.includes('other.pullgate.test') ? 'other' : sans);
    }
    assert.deepEqual([...seen].sort(), ['good', 'good', 'other', 'other']);
    const sessions = await lb.sessions();
    assert.equal(sessions.length, 4);
    assert.equal(new Set(sessions.map((s) => s.backend)).size, 2);
  });
});
