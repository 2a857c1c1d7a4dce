// Kept-alive connections of direct reads (src/upstream/direct/direct-pool.ts) against a real loopback TLS server
// that writes its answers byte for byte and counts its connections: which answers let a connection be kept, the
// race with a server closing an idle connection, the private-address guard's own sockets, idle timeouts, close().
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { lookup as dnsLookup } from 'node:dns';
import type { LookupFunction, Socket } from 'node:net';
import { setTimeout as delay } from 'node:timers/promises';
import { describe, test } from 'node:test';
import { directGet } from '../../src/upstream/direct/direct-get.js';
import type { DirectConnect } from '../../src/upstream/direct/direct-connect.js';
import { DirectPool } from '../../src/upstream/direct/direct-pool.js';
import { Upstream } from '../../src/upstream/upstream.js';
import { chunkSourceOf } from '../../src/upstream/chunk-source.js';
import { closed, keepAliveBench, keepAliveTimeouts as timeouts, readAll, responseOf } from '../support/direct-keepalive-bench.js';
import { upstreamConfig } from '../support/upstream-config.js';

/** An answer with a Content-Length on a connection left open (unlike answer(), which ends it). */
function answerOpen(socket: Socket, body: Buffer, headers: Record<string, string> = {}, status = '1.1 200 OK'): void {
  const lines = [`HTTP/${status}`, `content-length: ${body.length}`, ...Object.entries(headers).map(([k, v]) => `${k}: ${v}`)];
  socket.write(Buffer.concat([Buffer.from(`${lines.join('\r\n')}\r\n\r\n`, 'latin1'), body]));
}

/** Waits (polling) until `cond` holds, at most 2 s. */
async function until(cond: () => boolean, what: string): Promise<void> {
  for (const start = performance.now(); !cond(); await delay(5)) {
    if (performance.now() - start > 2000) assert.fail(`timed out waiting: ${what}`);
  }
}

describe('direct GET keep-alive', () => {
  const body = randomBytes(64 * 1024);
  const b = keepAliveBench('pullgate-keepalive-', (b, socket) => (b.nth(socket), answerOpen(socket, body)));

  test('two GETs in a row to one origin use one connection; the requests carry no Connection header', async () => {
    assert.ok((await readAll(await directGet(b.options()))).equals(body));
    assert.ok((await readAll(await directGet(b.options()))).equals(body));
    assert.equal(b.server.connections, 1);
    assert.equal(b.server.heads.length, 2);
    assert.ok(b.server.heads.every((h) => !/\r\nconnection:/i.test(h)));
    assert.equal(b.pool.size(), 1);
  });

  test('a body read through chunks() keeps its connection too', async () => {
    for (let i = 0; i < 2; i++) {
      const parts: Buffer[] = [];
      const res = responseOf(await directGet(b.options()));
      await new Promise<void>((resolve, reject) =>
        chunkSourceOf(res.body).deliver(
          (c) => parts.push(Buffer.from(c)),
          (err) => (err ? reject(err) : resolve()),
        ),
      );
      assert.ok(Buffer.concat(parts).equals(body));
    }
    assert.equal(b.server.connections, 1);
  });

  for (const [name, status, headers] of [
    ['connection: close', '1.1 200 OK', { connection: 'close' }],
    ['connection: Keep-Alive, Close', '1.1 200 OK', { connection: 'Keep-Alive, Close' }],
    ['HTTP/1.0', '1.0 200 OK', {}],
    ['HTTP/1.0 with connection: keep-alive', '1.0 200 OK', { connection: 'keep-alive' }],
    ['a Keep-Alive timeout hint within the margin (1 s)', '1.1 200 OK', { 'keep-alive': 'timeout=1' }],
  ] as const) {
    test(`an answer with ${name} does not keep its connection`, async () => {
      b.server.script = ({ socket }) => (b.nth(socket), answerOpen(socket, body, headers, status));
      assert.ok((await readAll(await directGet(b.options()))).equals(body));
      assert.equal(b.pool.size(), 0);
      assert.ok((await readAll(await directGet(b.options()))).equals(body));
      assert.equal(b.server.connections, 2);
    });
  }

  test('bytes beyond the Content-Length: the body ends cleanly, the connection is not kept', async () => {
    b.server.script = ({ socket }) => {
      b.nth(socket);
      socket.write(Buffer.concat([Buffer.from(`HTTP/1.1 200 OK\r\ncontent-length: ${body.length}\r\n\r\n`), body, Buffer.from('HTTP/1.1 200 OK\r\n')]));
    };
    assert.ok((await readAll(await directGet(b.options()))).equals(body));
    assert.ok((await readAll(await directGet(b.options()))).equals(body));
    assert.equal(b.server.connections, 2);
  });

  test('bytes arriving on an idle kept connection close it', async () => {
    assert.ok((await readAll(await directGet(b.options()))).equals(body));
    assert.equal(b.pool.size(), 1);
    b.sockets[0]?.write('HTTP/1.1 200 OK\r\n');
    await closed(b.sockets[0]!);
    await until(() => b.pool.size() === 0, 'the idle socket dropped');
  });

  test('a kept connection the server closed while idle is dropped; the next GET dials anew', async () => {
    assert.ok((await readAll(await directGet(b.options()))).equals(body));
    b.sockets[0]?.end();
    await closed(b.sockets[0]!);
    await until(() => b.pool.size() === 0, 'the end noticed while idle');
    assert.ok((await readAll(await directGet(b.options()))).equals(body));
    assert.equal(b.server.connections, 2);
    assert.equal(b.server.heads.length, 2);
  });

  test('a kept connection the server closes as the request arrives: the GET is sent once more on a new one', async () => {
    b.server.script = ({ socket }) => (b.nth(socket) === 2 ? socket.destroy() : answerOpen(socket, body));
    assert.ok((await readAll(await directGet(b.options()))).equals(body));
    assert.ok((await readAll(await directGet(b.options()))).equals(body));
    assert.equal(b.server.heads.length, 3, 'the first GET, the lost one, the retry');
    assert.equal(b.server.connections, 2);
  });

  test('no second try once a byte of the answer arrived, nor on a new connection', async () => {
    b.server.script = ({ socket }) => (b.nth(socket) === 2 ? (socket.write('HTTP/1.1 20'), setTimeout(() => socket.destroy(), 20)) : answerOpen(socket, body));
    assert.ok((await readAll(await directGet(b.options()))).equals(body));
    await assert.rejects(directGet(b.options()), (err: Error & { code?: string }) => err.code === 'UND_ERR_SOCKET');
    assert.equal(b.server.heads.length, 2);
    assert.equal(b.server.connections, 1);
    // A new connection closed before any byte is an error at once, not tried again.
    b.pool.close();
    b.pool = new DirectPool();
    b.server.script = ({ socket }) => socket.destroy();
    await assert.rejects(directGet(b.options()));
    assert.equal(b.server.heads.length, 3);
  });

  test('a guarded hop never gets a socket dialled without the guard, and guarded hops share theirs', async () => {
    let lookups = 0;
    const lookup = ((host: string, opts: object, cb: never) => {
      lookups++;
      dnsLookup(host, opts, cb);
    }) as LookupFunction;
    const guarded: DirectConnect = { ...b.connect, lookup };
    assert.ok((await readAll(await directGet(b.options()))).equals(body));
    assert.ok((await readAll(await directGet(b.options({ connect: guarded })))).equals(body));
    assert.equal(b.server.connections, 2, 'the unguarded socket was not handed to the guarded hop');
    assert.equal(lookups, 1, 'the guarded hop dialled through its lookup');
    assert.ok((await readAll(await directGet(b.options({ connect: guarded })))).equals(body));
    assert.ok((await readAll(await directGet(b.options()))).equals(body));
    assert.equal(b.server.connections, 2);
    assert.equal(lookups, 1);
  });

  test('a guarded hop\'s dial options are one object for every hop, never the unguarded one (idle sockets are keyed by it)', async () => {
    const u = new Upstream(upstreamConfig('pub', 'pub.test', { url: new URL('https://8.8.8.8') }), { timeouts });
    try {
      const endpoint = u.endpoints[0]!;
      const hop = await endpoint.connectFor(new URL('https://1.1.1.1/blob'));
      const again = await endpoint.connectFor(new URL('https://1.1.1.1/other'));
      const own = await endpoint.connectFor(new URL('https://8.8.8.8/v2/'));
      assert.ok(hop?.lookup, 'a redirect hop of a public upstream dials through the guard');
      assert.equal(again, hop);
      assert.equal(own?.lookup, undefined);
      assert.notEqual(b.pool.keyOf(new URL('https://1.1.1.1/'), hop), b.pool.keyOf(new URL('https://1.1.1.1/'), own!));
    } finally {
      await u.close();
    }
  });

  test('idle sockets are closed after the idle timeout', async () => {
    b.pool = new DirectPool({ idleMs: 50 });
    assert.ok((await readAll(await directGet(b.options()))).equals(body));
    assert.equal(b.pool.size(), 1);
    await closed(b.sockets[0]!);
    assert.equal(b.pool.size(), 0);
    assert.ok((await readAll(await directGet(b.options()))).equals(body));
    assert.equal(b.server.connections, 2);
  });

  test('a Keep-Alive: timeout=3 hint keeps the socket for the hint less 2 s, not the default 30 s', async () => {
    b.server.script = ({ socket }) => (b.nth(socket), answerOpen(socket, body, { 'keep-alive': 'timeout=3, max=100' }));
    assert.ok((await readAll(await directGet(b.options()))).equals(body));
    const kept = performance.now();
    assert.equal(b.pool.size(), 1);
    await closed(b.sockets[0]!);
    const ms = performance.now() - kept;
    assert.ok(ms >= 900 && ms < 5000, `closed after ${Math.round(ms)} ms`);
    assert.equal(b.pool.size(), 0);
  });

  test('an idle kept socket does not keep the process alive (unref), as undici\'s do', async () => {
    assert.ok((await readAll(await directGet(b.options()))).equals(body));
    assert.equal(b.pool.size(), 1);
    const tcpHandles = () => process.getActiveResourcesInfo().filter((r) => r === 'TCPSocketWrap').length;
    b.sockets[0]?.unref();
    assert.equal(tcpHandles(), 0, 'neither the server side (unref here) nor the idle client side holds the loop');
    b.sockets[0]?.ref();
  });

  test('at most maxIdle sockets are kept per origin', async () => {
    b.pool = new DirectPool({ maxIdle: 2 });
    const answers = await Promise.all([1, 2, 3].map(() => directGet(b.options())));
    await Promise.all(answers.map(readAll));
    assert.equal(b.server.connections, 3);
    assert.equal(b.pool.size(), 2);
  });

  test('dump() reads a small body to its end and keeps the connection; a large one is closed', async () => {
    b.server.script = ({ socket }) => (b.nth(socket), answerOpen(socket, body, { location: '/there' }, '1.1 307 X'));
    await responseOf(await directGet(b.options())).body.dump();
    await responseOf(await directGet(b.options())).body.dump();
    assert.equal(b.server.connections, 1);
    const large = randomBytes(64 * 1024 + 1);
    b.server.script = ({ socket }) => (b.nth(socket), answerOpen(socket, large, {}, '1.1 401 X'));
    await responseOf(await directGet(b.options())).body.dump();
    await closed(b.sockets[0]!);
    assert.equal(b.pool.size(), 0);
  });

  test('close() closes the idle sockets; a socket released afterwards is closed at once', async () => {
    assert.ok((await readAll(await directGet(b.options()))).equals(body));
    b.pool.close();
    await closed(b.sockets[0]!);
    assert.equal(b.pool.size(), 0);
    assert.ok((await readAll(await directGet(b.options()))).equals(body));
    await closed(b.sockets[1]!);
    assert.equal(b.pool.size(), 0);
  });

  test('Upstream.close() closes the kept connections of its direct reads', async () => {
    const u = new Upstream(upstreamConfig('tls', 'tls.test', { url: new URL(`https://localhost:${b.server.port}`), ca: b.caPath, retries: { attempts: 1, minDelayMs: 1, maxDelayMs: 1 } }), {
      timeouts,
    });
    for (let i = 0; i < 2; i++) {
      const res = await u.fetch({ method: 'GET', path: '/v2/x/blobs/sha256:00', direct: true });
      const parts: Buffer[] = [];
      await new Promise<void>((resolve, reject) => chunkSourceOf(res.body).deliver((c) => parts.push(Buffer.from(c)), (err) => (err ? reject(err) : resolve())));
      assert.ok(Buffer.concat(parts).equals(body));
    }
    assert.equal(b.server.connections, 1);
    assert.equal(u.directPool.size(), 1);
    await u.close();
    await closed(b.sockets[0]!);
  });
});
