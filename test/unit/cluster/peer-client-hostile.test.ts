// The peer client (src/cluster/peer-client.ts) against holders that misbehave, written byte for byte over a real
// loopback socket: nothing partial is ever handed over as a whole fill, each failure is an answer the following
// fill reads (docs/storage.md, "One fetch per cluster"), and the follower's backpressure and a slow holder's
// headers are told apart from a stalled body.
import assert from 'node:assert/strict';
import type { Socket } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { PeerAuth } from '../../../src/cluster/peer-auth.js';
import { PeerClient } from '../../../src/cluster/peer-client.js';
import { parseDigest } from '../../../src/registry/digest.js';
import { startScriptedServer, type ScriptedServer } from '../../support/scripted-http-server.js';
import { readPeerAnswer } from '../../support/peer-answer.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const digest = parseDigest(`sha256:${'a'.repeat(64)}`);
const head = (status: number, headers: Record<string, string>): string =>
  `HTTP/1.1 ${status} X\r\n${Object.entries(headers)
    .map(([k, v]) => `${k}: ${v}\r\n`)
    .join('')}\r\n`;

describe('the peer client against a hostile or broken holder', () => {
  let server: ScriptedServer;
  let owner = '';
  const client = (t: Partial<{ headersMs: number; idleMs: number }> = {}) =>
    new PeerClient({ auth: new PeerAuth('s'.repeat(64), 'http://follower.invalid'), connectMs: 2000, headersMs: t.headersMs ?? 2000, idleMs: t.idleMs ?? 2000 });

  before(async () => {
    server = await startScriptedServer({}, () => undefined);
    owner = `http://127.0.0.1:${server.port}`;
  });
  after(() => server.close());

  it('a head larger than any limit is unreachable', async () => {
    server.script = ({ socket }) => socket.end(`HTTP/1.1 200 X\r\nx-big: ${'y'.repeat(70 * 1024)}\r\ncontent-length: 1\r\n\r\nx`);
    const peers = client();
    const answer = await peers.follow(owner, digest);
    assert.equal(answer.kind, 'unreachable');
    await peers.close();
  });

  it('Content-Length with Transfer-Encoding is unreachable', async () => {
    server.script = ({ socket }) => socket.end(head(200, { 'content-length': '5', 'transfer-encoding': 'chunked' }) + '5\r\nhello\r\n0\r\n\r\n');
    const peers = client();
    const answer = await peers.follow(owner, digest);
    assert.equal(answer.kind, 'unreachable');
    await peers.close();
  });

  it('a body shorter than its Content-Length ends with an error, never cleanly', async () => {
    server.script = ({ socket }) => socket.end(head(200, { 'content-length': '100000' }) + 'x'.repeat(50_000));
    const peers = client();
    const { bytes, error } = await readPeerAnswer(await peers.follow(owner, digest));
    assert.ok(error, `${bytes.length} bytes and a clean end`);
    assert.ok(bytes.length < 100_000);
    await peers.close();
  });

  it('a body longer than its Content-Length hands over exactly the announced bytes; the connection is not kept', async () => {
    server.script = ({ socket }) => socket.write(head(200, { 'content-length': '5' }) + 'hellogarbage');
    const peers = client();
    const { bytes, error } = await readPeerAnswer(await peers.follow(owner, digest));
    assert.equal(error, undefined);
    assert.equal(bytes.toString(), 'hello');
    const before = server.connections;
    server.script = ({ socket }) => socket.write(head(404, { 'content-length': '2' }) + '{}');
    assert.equal((await peers.follow(owner, digest)).kind, 'not-running');
    assert.equal(server.connections - before, 1, 'a fresh connection');
    await peers.close();
  });

  it('bytes after a kept answer, before the next request, are never read as its answer', async () => {
    server.script = ({ socket }) => {
      socket.write(head(404, { 'content-length': '2' }) + '{}');
      setTimeout(() => socket.write(head(200, { 'content-length': '5' }) + 'EVIL!'), 20);
    };
    const peers = client();
    assert.equal((await peers.follow(owner, digest)).kind, 'not-running');
    await sleep(100);
    server.script = ({ socket }) => socket.write(head(200, { 'content-length': '5' }) + 'hello');
    const { bytes, error } = await readPeerAnswer(await peers.follow(owner, digest));
    assert.equal(error, undefined);
    assert.equal(bytes.toString(), 'hello');
    await peers.close();
  });

  it('a holder that closes a kept connection: the next follow goes on a new one', async () => {
    const sockets: Socket[] = [];
    server.script = ({ socket }) => {
      sockets.push(socket);
      socket.write(head(404, { 'content-length': '2' }) + '{}');
    };
    const peers = client();
    assert.equal((await peers.follow(owner, digest)).kind, 'not-running');
    for (const s of sockets) s.destroy();
    await sleep(50);
    server.script = ({ socket }) => socket.write(head(200, { 'content-length': '5' }) + 'hello');
    const { bytes } = await readPeerAnswer(await peers.follow(owner, digest));
    assert.equal(bytes.toString(), 'hello');
    await peers.close();
  });

  it('a holder closing a kept connection as the next request arrives: the request goes once more, on a new connection', async () => {
    const seen = new Set<Socket>();
    server.script = ({ socket }) => {
      if (seen.has(socket)) return void socket.destroy();
      seen.add(socket);
      socket.write(head(seen.size === 1 ? 404 : 200, { 'content-length': '2' }) + '{}');
    };
    const peers = client();
    assert.equal((await peers.follow(owner, digest)).kind, 'not-running');
    const { bytes, error } = await readPeerAnswer(await peers.follow(owner, digest));
    assert.equal(error, undefined);
    assert.equal(bytes.toString(), '{}');
    assert.equal(seen.size, 2, 'a second connection');
    await peers.close();
  });

  it('a holder that stalls mid-body is cut after the idle time', async () => {
    server.script = ({ socket }) => socket.write(head(200, { 'content-length': '10' }) + 'hello');
    const peers = client({ idleMs: 300 });
    const started = performance.now();
    const { bytes, error } = await readPeerAnswer(await peers.follow(owner, digest));
    assert.ok(error, 'an error, not a clean end');
    assert.equal(bytes.toString(), 'hello');
    assert.ok(performance.now() - started < 3000);
    await peers.close();
  });

  it('a holder that resets mid-body ends the body with an error', async () => {
    server.script = ({ socket }) => {
      socket.write(head(200, { 'content-length': '10' }) + 'hello');
      setTimeout(() => socket.resetAndDestroy(), 30);
    };
    const peers = client();
    const { error } = await readPeerAnswer(await peers.follow(owner, digest));
    assert.ok(error);
    await peers.close();
  });

  it('a follower paused by backpressure longer than the idle time is not cut', async () => {
    const body = Buffer.alloc(2 * 1024 * 1024, 3);
    server.script = ({ socket }) => socket.write(Buffer.concat([Buffer.from(head(200, { 'content-length': String(body.length) })), body]));
    const peers = client({ idleMs: 400 });
    const { bytes, error } = await readPeerAnswer(await peers.follow(owner, digest), 1200);
    assert.equal(error, undefined);
    assert.ok(bytes.equals(body));
    await peers.close();
  });

  it("a holder waiting longer than the idle time for its upstream's headers is waited for, up to the headers time", async () => {
    server.script = ({ socket }) => setTimeout(() => socket.write(head(200, { 'content-length': '5' }) + 'hello'), 600);
    const peers = client({ headersMs: 3000, idleMs: 200 });
    const { bytes } = await readPeerAnswer(await peers.follow(owner, digest));
    assert.equal(bytes.toString(), 'hello');
    server.script = () => undefined;
    const slow = client({ headersMs: 300, idleMs: 5000 });
    const answer = await slow.follow(owner, digest);
    assert.equal(answer.kind, 'unreachable');
    await Promise.all([peers.close(), slow.close()]);
  });

  it('a 404 is not running, with or without a length', async () => {
    server.script = ({ socket }) => socket.end(head(404, { 'transfer-encoding': 'chunked' }) + '2\r\n{}\r\n0\r\n\r\n');
    const peers = client();
    assert.equal((await peers.follow(owner, digest)).kind, 'not-running');
    server.script = ({ socket }) => socket.end(head(404, { connection: 'close' }) + '{}');
    assert.equal((await peers.follow(owner, digest)).kind, 'not-running');
    await peers.close();
  });
});

describe('the peer client and an IPv6 holder', () => {
  it('an owner at [::1] is followed', async () => {
    const v6 = await startScriptedServer({ host: '::1' }, ({ socket, head: h }) => {
      assert.match(h, new RegExp(`^GET /fills/${digest} HTTP/1.1\r\nhost: \\[::1\\]:\\d+\r\n`));
      socket.write(head(200, { 'content-length': '5' }) + 'hello');
    });
    const peers = new PeerClient({ auth: new PeerAuth('s'.repeat(64), 'http://follower.invalid'), connectMs: 2000, headersMs: 2000, idleMs: 2000 });
    const { bytes } = await readPeerAnswer(await peers.follow(`http://[::1]:${v6.port}`, digest));
    assert.equal(bytes.toString(), 'hello');
    await peers.close();
    await v6.close();
  });
});
