// Kept-alive direct reads (src/upstream/direct/direct-pool.ts) under the answers that could hand one request's bytes
// to another, or one trust setting's socket to another: against a real loopback TLS server writing byte for byte.
// A kept socket must only ever carry an answer read to its exact end; anything else closes it.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import type { Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { describe, test } from 'node:test';
import { directGet, type DirectAnswer } from '../../src/upstream/direct/direct-get.js';
import { Upstream } from '../../src/upstream/upstream.js';
import { chunkSourceOf } from '../../src/upstream/chunk-source.js';
import { createTestCa } from '../support/pki.js';
import { startScriptedServer } from '../support/scripted-http-server.js';
import { closed, keepAliveBench, keepAliveTimeouts as timeouts, readAll, responseOf } from '../support/direct-keepalive-bench.js';
import { upstreamConfig } from '../support/upstream-config.js';

const headOf = (length: number, status = '200 OK'): Buffer => Buffer.from(`HTTP/1.1 ${status}\r\ncontent-length: ${length}\r\n\r\n`, 'latin1');

/** A blob GET through `u` asking for a direct read, its bytes taken as a fill takes them (transient chunks, copied). */
async function pull(u: Upstream): Promise<Buffer> {
  const res = await u.fetch({ method: 'GET', path: '/v2/x/blobs/sha256:00', direct: true });
  const parts: Buffer[] = [];
  await new Promise<void>((resolve, reject) => chunkSourceOf(res.body).deliver((c) => parts.push(Buffer.from(c)), (err) => (err ? reject(err) : resolve())));
  return Buffer.concat(parts);
}

describe('direct GET keep-alive hazards', () => {
  const body = randomBytes(32 * 1024);
  /** Every later request on a connection gets a plain answer: a stale byte would show as a wrong body. */
  const plain = (socket: Socket): boolean => socket.write(Buffer.concat([headOf(body.length), body]));
  const b = keepAliveBench('pullgate-keepalive-hazards-', (b, socket) => (b.nth(socket), plain(socket)));

  test('a 204 with body bytes after it does not keep its connection; the next GET gets its own answer', async () => {
    b.server.script = ({ socket }) => (b.nth(socket) && b.server.heads.length === 1 ? socket.write(Buffer.concat([headOf(5, '204 No Content'), Buffer.from('stale')])) : plain(socket));
    const first = responseOf(await directGet(b.options()));
    assert.equal(first.status, 204);
    assert.equal((await readAll(first)).length, 0);
    assert.ok((await readAll(await directGet(b.options()))).equals(body));
    assert.equal(b.server.connections, 2);
  });

  for (const [when, later] of [
    ['synchronously', (f: () => void) => f()],
    ['in a microtask', (f: () => void) => void Promise.resolve().then(f)],
    ['on the next tick', (f: () => void) => process.nextTick(f)],
  ] as const) {
    test(`bytes beyond the Content-Length handed over in a read of their own, with the next GET sent ${when} after the end: never its answer`, async () => {
      const stale = Buffer.concat([headOf(5), Buffer.from('stale')]);
      b.server.script = ({ socket }) => {
        b.nth(socket);
        if (b.server.heads.length > 1) return void plain(socket);
        // Two writes, two TLS records, most often in one TCP segment: read one after the other in one go.
        // The answer ends on a 16 KiB boundary: Node hands decrypted bytes over in 16 KiB pieces.
        const exact = body.subarray(0, 2 * 16384 - headOf(body.length).length);
        socket.cork();
        socket.write(Buffer.concat([headOf(exact.length), exact]));
        socket.write(stale);
        process.nextTick(() => socket.uncork());
      };
      const first = responseOf(await directGet(b.options()));
      const next = new Promise<DirectAnswer>((resolve, reject) =>
        chunkSourceOf(first.body).deliver(
          () => undefined,
          (err) => (err ? reject(err) : later(() => directGet(b.options()).then(resolve, reject))),
        ),
      );
      const got = await readAll(await next);
      assert.ok(got.equals(body), `the second GET got ${got.length} bytes: ${got.subarray(0, 16).toString('latin1')}`);
      assert.equal(b.server.connections, 2, 'the connection with the stale bytes carried nothing more');
    });
  }

  test('dump() of a small body still arriving reads it to its end; the connection then carries the next GET cleanly', async () => {
    b.server.script = ({ socket }) => {
      if (b.nth(socket) > 1) return void plain(socket);
      socket.write(Buffer.concat([headOf(body.length, '307 X'), body.subarray(0, 1000)]));
      setTimeout(() => socket.write(body.subarray(1000)), 80);
    };
    await responseOf(await directGet(b.options())).body.dump();
    assert.equal(b.pool.size(), 1);
    assert.ok((await readAll(await directGet(b.options()))).equals(body));
    assert.equal(b.server.connections, 1);
  });

  /** The first answer: its head and 10 bytes at once, the rest 100 ms later. */
  const slowFirstAnswer = (socket: Socket): void => {
    socket.write(Buffer.concat([headOf(body.length), body.subarray(0, 10)]));
    setTimeout(() => socket.write(body.subarray(10)), 100);
  };
  /** The first connection was closed, never kept; the next GET gets its own answer on a new one. */
  async function closedNotKept(): Promise<void> {
    await closed(b.sockets[0]!);
    assert.equal(b.pool.size(), 0);
    assert.ok((await readAll(await directGet(b.options()))).equals(body));
    assert.equal(b.server.connections, 2);
  }

  test('dump() of a body that stalls: the body idle timeout closes the connection, never pools it', async () => {
    b.server.script = ({ socket }) => (b.nth(socket) && b.server.heads.length === 1 ? socket.write(Buffer.concat([headOf(body.length, '401 X'), body.subarray(0, 10)])) : plain(socket));
    await responseOf(await directGet(b.options({ timeouts: { ...timeouts, idle: 100 } }))).body.dump();
    await closedNotKept();
  });

  test('an abort after the head, with the body still arriving, closes the connection: the rest never reaches the next GET', async () => {
    b.server.script = ({ socket }) => (b.nth(socket) && b.server.heads.length > 1 ? plain(socket) : slowFirstAnswer(socket));
    const ac = new AbortController();
    const first = responseOf(await directGet(b.options({ signal: ac.signal })));
    first.body.on('error', () => undefined);
    ac.abort();
    await closedNotKept();
  });

  test('a body destroyed mid-way (chunks() reader gives up) closes the connection', async () => {
    b.server.script = ({ socket }) => (b.nth(socket) && b.server.heads.length > 1 ? plain(socket) : slowFirstAnswer(socket));
    const source = chunkSourceOf(responseOf(await directGet(b.options())).body);
    const ended = new Promise<Error | undefined>((resolve) => source.deliver(() => source.destroy(new Error('reader gave up')), resolve));
    assert.ok(await ended);
    await closed(b.sockets[0]!);
    assert.equal(b.pool.size(), 0);
    assert.ok((await readAll(await directGet(b.options()))).equals(body));
  });

  test('a body idle timeout mid-body closes the connection, never pools it', async () => {
    b.server.script = ({ socket }) => (b.nth(socket) === 1 ? socket.write(Buffer.concat([headOf(body.length), body.subarray(0, 10)])) : plain(socket));
    await assert.rejects(readAll(await directGet(b.options({ timeouts: { ...timeouts, idle: 100 } }))), (err: Error & { code?: string }) => err.code === 'UND_ERR_BODY_TIMEOUT');
    await closed(b.sockets[0]!);
    assert.equal(b.pool.size(), 0);
  });

  test('a kept socket closed as the request arrives: an abort during the second try ends the GET at once', async () => {
    b.server.script = ({ socket }) => {
      const n = b.nth(socket);
      if (n === 2) socket.destroy();
      else if (b.sockets.length === 1) plain(socket);
      // The second try's connection never answers.
    };
    assert.ok((await readAll(await directGet(b.options()))).equals(body));
    const ac = new AbortController();
    const second = directGet(b.options({ signal: ac.signal, timeouts: { ...timeouts, headers: 10_000 } }));
    while (b.server.heads.length < 3) await delay(5);
    const start = performance.now();
    ac.abort(new Error('caller gave up'));
    await assert.rejects(second, /caller gave up/);
    assert.ok(performance.now() - start < 500);
    await closed(b.sockets[1]!);
    assert.equal(b.pool.size(), 0);
  });

  test('idle sockets are bounded in total, not only per origin (many CDN shards)', async () => {
    // Distinct dial options make distinct keys, as distinct origins do.
    const keys = Array.from({ length: 80 }, () => ({ ...b.connect }));
    for (const c of keys) assert.ok((await readAll(await directGet(b.options({ connect: c })))).equals(body));
    assert.equal(b.server.connections, 80);
    assert.ok(b.pool.size() <= 64, `${b.pool.size()} idle sockets`);
    // The oldest were the ones closed; the newest is still kept and reused.
    await closed(b.sockets[0]!);
    assert.ok((await readAll(await directGet(b.options({ connect: keys[79]! })))).equals(body));
    assert.equal(b.server.connections, 80);
  });

  test('an origin whose kept socket was taken leaves nothing behind in the pool', async () => {
    const keys = Array.from({ length: 5 }, () => ({ ...b.connect }));
    for (const c of keys) assert.ok((await readAll(await directGet(b.options({ connect: c })))).equals(body));
    assert.equal(b.pool.keys(), 5);
    for (const c of keys) {
      const res = responseOf(await directGet(b.options({ connect: c })));
      res.body.destroy();
    }
    assert.equal(b.pool.size(), 0);
    assert.equal(b.pool.keys(), 0);
  });

  test('redirect hops to one CDN from a lax and a strict upstream: the strict hop never gets the lax one\'s socket', async () => {
    const cdnDir = await mkdtemp(join(tmpdir(), 'pullgate-keepalive-cdn-'));
    const otherCa = await createTestCa(cdnDir);
    const cdnCert = await otherCa.issue('cdn', ['localhost'], ['127.0.0.1']);
    const cdn = await startScriptedServer({ tls: { cert: cdnCert.certPem, key: cdnCert.keyPem } }, ({ socket }) => plain(socket));
    b.server.script = ({ socket }) =>
      void socket.write(`HTTP/1.1 307 Temporary Redirect\r\nlocation: https://127.0.0.1:${cdn.port}/blob\r\ncontent-length: 0\r\n\r\n`);
    const cfg = { retries: { attempts: 1, minDelayMs: 1, maxDelayMs: 1 }, url: new URL(`https://localhost:${b.server.port}`), ca: b.caPath };
    const lax = new Upstream(upstreamConfig('lax', 'lax.test', { ...cfg, insecureSkipVerify: true }), { timeouts });
    const strict = new Upstream(upstreamConfig('strict', 'strict.test', cfg), { timeouts });
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
    const cfg = { retries: { attempts: 1, minDelayMs: 1, maxDelayMs: 1 }, url: new URL(`https://localhost:${b.server.port}`) };
    const lax = new Upstream(upstreamConfig('lax', 'lax.test', { ...cfg, insecureSkipVerify: true }), { timeouts });
    const strict = new Upstream(upstreamConfig('strict', 'strict.test', cfg), { timeouts });
    const trusted = new Upstream(upstreamConfig('trusted', 'trusted.test', { ...cfg, ca: b.caPath }), { timeouts });
    try {
      assert.ok((await pull(lax)).equals(body));
      assert.equal(lax.directPool.size(), 1);
      // The test CA is not among the system roots.
      await assert.rejects(pull(strict), /does not chain to a trusted CA/);
      assert.ok((await pull(trusted)).equals(body));
      assert.equal(b.server.heads.length, 2, 'the strict upstream never sent its request');
    } finally {
      await Promise.all([lax.close(), strict.close(), trusted.close()]);
    }
  });
});
