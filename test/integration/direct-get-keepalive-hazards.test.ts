// Kept-alive direct reads (src/upstream/direct/direct-pool.ts) under the answers that could hand one request's bytes
// to another, or one trust setting's socket to another: against a real loopback TLS server writing byte for byte.
// A kept socket must only ever carry an answer read to its exact end; anything else closes it.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import type { Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { rootCertificates } from 'node:tls';
import { setTimeout as delay } from 'node:timers/promises';
import { after, before, beforeEach, describe, test } from 'node:test';
import { directGet, type DirectAnswer, type DirectGetOptions } from '../../src/upstream/direct/direct-get.js';
import type { DirectConnect } from '../../src/upstream/direct/direct-connect.js';
import { DirectPool } from '../../src/upstream/direct/direct-pool.js';
import { Upstream } from '../../src/upstream/upstream.js';
import { chunkSourceOf } from '../../src/upstream/chunk-source.js';
import { createTestCa } from '../support/pki.js';
import { startScriptedServer, type ScriptedServer } from '../support/scripted-http-server.js';
import { upstreamConfig } from '../support/upstream-config.js';

const headOf = (length: number, status = '200 OK'): Buffer => Buffer.from(`HTTP/1.1 ${status}\r\ncontent-length: ${length}\r\n\r\n`, 'latin1');

const response = (a: DirectAnswer): Extract<DirectAnswer, { kind: 'response' }> => {
  assert.equal(a.kind, 'response');
  return a as Extract<DirectAnswer, { kind: 'response' }>;
};

async function readAll(a: DirectAnswer): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const c of response(a).body) parts.push(c as Buffer);
  return Buffer.concat(parts);
}

const closed = (s: Socket): Promise<void> => new Promise((resolve) => (s.destroyed ? resolve() : s.once('close', () => resolve())));

describe('direct GET keep-alive hazards', () => {
  let dir: string;
  let caPath: string;
  let server: ScriptedServer;
  let pool: DirectPool;
  let sockets: Socket[];
  const body = randomBytes(32 * 1024);
  const timeouts = { connect: 2000, headers: 2000, idle: 2000 };
  let connect: DirectConnect;
  const options = (extra: Partial<DirectGetOptions> = {}): DirectGetOptions => ({
    url: new URL(`https://localhost:${server.port}/v2/x/blobs/sha256:00`),
    headers: { 'user-agent': 'pullgate-test' },
    connect,
    timeouts,
    pool,
    ...extra,
  });
  /** The first request on a connection records the connection; returns the request's number on it (heads: all). */
  const served = new WeakMap<Socket, number>();
  const nth = (socket: Socket): number => {
    const n = (served.get(socket) ?? 0) + 1;
    served.set(socket, n);
    if (n === 1) sockets.push(socket);
    return n;
  };
  /** Every later request on a connection gets a plain answer: a stale byte would show as a wrong body. */
  const plain = (socket: Socket): boolean => socket.write(Buffer.concat([headOf(body.length), body]));

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'pullgate-keepalive-hazards-'));
    const ca = await createTestCa(dir);
    caPath = ca.caCertPath;
    connect = { ca: [...rootCertificates, ca.caCertPem], rejectUnauthorized: true };
    const cert = await ca.issue('localhost', ['localhost'], ['127.0.0.1']);
    server = await startScriptedServer({ tls: { cert: cert.certPem, key: cert.keyPem } }, () => undefined);
  });
  beforeEach(() => {
    pool?.close();
    pool = new DirectPool();
    sockets = [];
    server.connections = 0;
    server.heads.length = 0;
    server.script = ({ socket }) => (nth(socket), plain(socket));
  });
  after(async () => {
    pool.close();
    await server.close();
    await rm(dir, { recursive: true, force: true });
  });

  test('a 204 with body bytes after it does not keep its connection; the next GET gets its own answer', async () => {
    server.script = ({ socket }) => (nth(socket) && server.heads.length === 1 ? socket.write(Buffer.concat([headOf(5, '204 No Content'), Buffer.from('stale')])) : plain(socket));
    const first = response(await directGet(options()));
    assert.equal(first.status, 204);
    assert.equal((await readAll(first)).length, 0);
    assert.ok((await readAll(await directGet(options()))).equals(body));
    assert.equal(server.connections, 2);
  });

  for (const [when, later] of [
    ['synchronously', (f: () => void) => f()],
    ['in a microtask', (f: () => void) => void Promise.resolve().then(f)],
    ['on the next tick', (f: () => void) => process.nextTick(f)],
  ] as const) {
    test(`bytes beyond the Content-Length handed over in a read of their own, with the next GET sent ${when} after the end: never its answer`, async () => {
      const stale = Buffer.concat([headOf(5), Buffer.from('stale')]);
      server.script = ({ socket }) => {
        nth(socket);
        if (server.heads.length > 1) return void plain(socket);
        // Two writes, two TLS records, most often in one TCP segment: read one after the other in one go.
        // The answer ends on a 16 KiB boundary: Node hands decrypted bytes over in 16 KiB pieces.
        const exact = body.subarray(0, 2 * 16384 - headOf(body.length).length);
        socket.cork();
        socket.write(Buffer.concat([headOf(exact.length), exact]));
        socket.write(stale);
        process.nextTick(() => socket.uncork());
      };
      const first = response(await directGet(options()));
      const next = new Promise<DirectAnswer>((resolve, reject) =>
        chunkSourceOf(first.body).deliver(
          () => undefined,
          (err) => (err ? reject(err) : later(() => directGet(options()).then(resolve, reject))),
        ),
      );
      const got = await readAll(await next);
      assert.ok(got.equals(body), `the second GET got ${got.length} bytes: ${got.subarray(0, 16).toString('latin1')}`);
      assert.equal(server.connections, 2, 'the connection with the stale bytes carried nothing more');
    });
  }

  test('dump() of a small body still arriving reads it to its end; the connection then carries the next GET cleanly', async () => {
    server.script = ({ socket }) => {
      if (nth(socket) > 1) return void plain(socket);
      socket.write(Buffer.concat([headOf(body.length, '307 X'), body.subarray(0, 1000)]));
      setTimeout(() => socket.write(body.subarray(1000)), 80);
    };
    await response(await directGet(options())).body.dump();
    assert.equal(pool.size(), 1);
    assert.ok((await readAll(await directGet(options()))).equals(body));
    assert.equal(server.connections, 1);
  });

  test('dump() of a body that stalls: the body idle timeout closes the connection, never pools it', async () => {
    server.script = ({ socket }) => (nth(socket) && server.heads.length === 1 ? socket.write(Buffer.concat([headOf(body.length, '401 X'), body.subarray(0, 10)])) : plain(socket));
    await response(await directGet(options({ timeouts: { ...timeouts, idle: 100 } }))).body.dump();
    await closed(sockets[0]!);
    assert.equal(pool.size(), 0);
    assert.ok((await readAll(await directGet(options()))).equals(body));
    assert.equal(server.connections, 2);
  });

  test('an abort after the head, with the body still arriving, closes the connection: the rest never reaches the next GET', async () => {
    server.script = ({ socket }) => {
      if (nth(socket) && server.heads.length > 1) return void plain(socket);
      socket.write(Buffer.concat([headOf(body.length), body.subarray(0, 10)]));
      setTimeout(() => socket.write(body.subarray(10)), 100);
    };
    const ac = new AbortController();
    const first = response(await directGet(options({ signal: ac.signal })));
    first.body.on('error', () => undefined);
    ac.abort();
    await closed(sockets[0]!);
    assert.equal(pool.size(), 0);
    assert.ok((await readAll(await directGet(options()))).equals(body));
    assert.equal(server.connections, 2);
  });

  test('a body destroyed mid-way (chunks() reader gives up) closes the connection', async () => {
    server.script = ({ socket }) => {
      if (nth(socket) && server.heads.length > 1) return void plain(socket);
      socket.write(Buffer.concat([headOf(body.length), body.subarray(0, 10)]));
      setTimeout(() => socket.write(body.subarray(10)), 100);
    };
    const source = chunkSourceOf(response(await directGet(options())).body);
    const ended = new Promise<Error | undefined>((resolve) => source.deliver(() => source.destroy(new Error('reader gave up')), resolve));
    assert.ok(await ended);
    await closed(sockets[0]!);
    assert.equal(pool.size(), 0);
    assert.ok((await readAll(await directGet(options()))).equals(body));
  });

  test('a body idle timeout mid-body closes the connection, never pools it', async () => {
    server.script = ({ socket }) => (nth(socket) === 1 ? socket.write(Buffer.concat([headOf(body.length), body.subarray(0, 10)])) : plain(socket));
    await assert.rejects(readAll(await directGet(options({ timeouts: { ...timeouts, idle: 100 } }))), (err: Error & { code?: string }) => err.code === 'UND_ERR_BODY_TIMEOUT');
    await closed(sockets[0]!);
    assert.equal(pool.size(), 0);
  });

  test('a kept socket closed as the request arrives: an abort during the second try ends the GET at once', async () => {
    server.script = ({ socket }) => {
      const n = nth(socket);
      if (n === 2) socket.destroy();
      else if (sockets.length === 1) plain(socket);
      // The second try's connection never answers.
    };
    assert.ok((await readAll(await directGet(options()))).equals(body));
    const ac = new AbortController();
    const second = directGet(options({ signal: ac.signal, timeouts: { ...timeouts, headers: 10_000 } }));
    while (server.heads.length < 3) await delay(5);
    const start = performance.now();
    ac.abort(new Error('caller gave up'));
    await assert.rejects(second, /caller gave up/);
    assert.ok(performance.now() - start < 500);
    await closed(sockets[1]!);
    assert.equal(pool.size(), 0);
  });

  test('idle sockets are bounded in total, not only per origin (many CDN shards)', async () => {
    // Distinct dial options make distinct keys, as distinct origins do.
    const keys = Array.from({ length: 80 }, () => ({ ...connect }));
    for (const c of keys) assert.ok((await readAll(await directGet(options({ connect: c })))).equals(body));
    assert.equal(server.connections, 80);
    assert.ok(pool.size() <= 64, `${pool.size()} idle sockets`);
    // The oldest were the ones closed; the newest is still kept and reused.
    await closed(sockets[0]!);
    assert.ok((await readAll(await directGet(options({ connect: keys[79]! })))).equals(body));
    assert.equal(server.connections, 80);
  });

  test('an origin whose kept socket was taken leaves nothing behind in the pool', async () => {
    const keys = Array.from({ length: 5 }, () => ({ ...connect }));
    for (const c of keys) assert.ok((await readAll(await directGet(options({ connect: c })))).equals(body));
    assert.equal(pool.keys(), 5);
    for (const c of keys) {
      const res = response(await directGet(options({ connect: c })));
      res.body.destroy();
    }
    assert.equal(pool.size(), 0);
    assert.equal(pool.keys(), 0);
  });

  test('redirect hops to one CDN from a lax and a strict upstream: the strict hop never gets the lax one\'s socket', async () => {
    const cdnDir = await mkdtemp(join(tmpdir(), 'pullgate-keepalive-cdn-'));
    const otherCa = await createTestCa(cdnDir);
    const cdnCert = await otherCa.issue('cdn', ['localhost'], ['127.0.0.1']);
    const cdn = await startScriptedServer({ tls: { cert: cdnCert.certPem, key: cdnCert.keyPem } }, ({ socket }) => plain(socket));
    server.script = ({ socket }) =>
      void socket.write(`HTTP/1.1 307 Temporary Redirect\r\nlocation: https://127.0.0.1:${cdn.port}/blob\r\ncontent-length: 0\r\n\r\n`);
    const cfg = { retries: { attempts: 1, minDelayMs: 1, maxDelayMs: 1 }, url: new URL(`https://localhost:${server.port}`), ca: caPath };
    const lax = new Upstream(upstreamConfig('lax', 'lax.test', { ...cfg, insecureSkipVerify: true }), { timeouts });
    const strict = new Upstream(upstreamConfig('strict', 'strict.test', cfg), { timeouts });
    const pull = async (u: Upstream): Promise<Buffer> => {
      const res = await u.fetch({ method: 'GET', path: '/v2/x/blobs/sha256:00', direct: true });
      const parts: Buffer[] = [];
      await new Promise<void>((resolve, reject) => chunkSourceOf(res.body).deliver((c) => parts.push(Buffer.from(c)), (err) => (err ? reject(err) : resolve())));
      return Buffer.concat(parts);
    };
    try {
      assert.ok((await pull(lax)).equals(body));
      assert.ok((await pull(lax)).equals(body));
      assert.equal(cdn.connections, 1, 'the lax upstream keeps its CDN socket');
      // The CDN's CA is trusted by neither upstream; only the lax one skips verification.
      await assert.rejects(pull(strict), /does not chain to a trusted CA/);
      assert.equal(cdn.heads.length, 2, 'the strict upstream never sent its request to the CDN');
      assert.equal(lax.directPool.size(), 2, 'the registry and the CDN socket, still the lax upstream\'s');
    } finally {
      await Promise.all([lax.close(), strict.close()]);
      await cdn.close();
      await rm(cdnDir, { recursive: true, force: true });
    }
  });

  test('two upstreams on one origin, one lax (insecureSkipVerify) and one strict: the strict one never gets the lax socket', async () => {
    const cfg = { retries: { attempts: 1, minDelayMs: 1, maxDelayMs: 1 }, url: new URL(`https://localhost:${server.port}`) };
    const lax = new Upstream(upstreamConfig('lax', 'lax.test', { ...cfg, insecureSkipVerify: true }), { timeouts });
    const strict = new Upstream(upstreamConfig('strict', 'strict.test', cfg), { timeouts });
    const trusted = new Upstream(upstreamConfig('trusted', 'trusted.test', { ...cfg, ca: caPath }), { timeouts });
    const pull = async (u: Upstream): Promise<Buffer> => {
      const res = await u.fetch({ method: 'GET', path: '/v2/x/blobs/sha256:00', direct: true });
      const parts: Buffer[] = [];
      await new Promise<void>((resolve, reject) => chunkSourceOf(res.body).deliver((c) => parts.push(Buffer.from(c)), (err) => (err ? reject(err) : resolve())));
      return Buffer.concat(parts);
    };
    try {
      assert.ok((await pull(lax)).equals(body));
      assert.equal(lax.directPool.size(), 1);
      // The test CA is not among the system roots.
      await assert.rejects(pull(strict), /does not chain to a trusted CA/);
      assert.ok((await pull(trusted)).equals(body));
      assert.equal(server.heads.length, 2, 'the strict upstream never sent its request');
    } finally {
      await Promise.all([lax.close(), strict.close(), trusted.close()]);
    }
  });
});
