// Direct reads (src/upstream/direct/direct-get.ts) against a real loopback TLS server that writes its answers byte
// for byte: bodies through both faces, framing faults, timeouts, aborts and certificate checks.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { rootCertificates } from 'node:tls';
import { after, before, describe, test } from 'node:test';
import { errors as undiciErrors } from 'undici';
import { directGet, type DirectAnswer, type DirectGetOptions } from '../../src/upstream/direct/direct-get.js';
import type { DirectBody } from '../../src/upstream/direct/direct-body.js';
import { toUpstreamError } from '../../src/upstream/upstream-errors.js';
import { RegistryError } from '../../src/registry/errors.js';
import { createTestCa, type TestCa } from '../support/pki.js';
import { answer, startScriptedServer, type ScriptedServer } from '../support/scripted-http-server.js';

/** All of a body through chunks(): each chunk copied as it is handed over (it is a view of a reused buffer). */
function readChunks(body: DirectBody): Promise<{ bytes: Buffer; error?: Error }> {
  const source = body.chunks();
  assert.ok(source, 'an unread direct body hands over chunks');
  const parts: Buffer[] = [];
  return new Promise((resolve) => {
    source.deliver(
      (chunk) => parts.push(Buffer.from(chunk)),
      (error) => resolve({ bytes: Buffer.concat(parts), ...(error ? { error } : {}) }),
    );
  });
}

async function readAll(body: DirectBody): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const c of body) parts.push(c as Buffer);
  return Buffer.concat(parts);
}

const response = (a: DirectAnswer): Extract<DirectAnswer, { kind: 'response' }> => {
  assert.equal(a.kind, 'response');
  return a as Extract<DirectAnswer, { kind: 'response' }>;
};

describe('direct GET over TLS', () => {
  let dir: string;
  let ca: TestCa;
  let server: ScriptedServer;
  let other: ScriptedServer;
  const blob = randomBytes(3 * 1024 * 1024 + 17);
  const timeouts = { connect: 2000, headers: 2000, idle: 2000 };
  const options = (path: string, extra: Partial<DirectGetOptions> = {}): DirectGetOptions => ({
    url: new URL(`https://localhost:${server.port}${path}`),
    headers: { 'user-agent': 'pullgate-test', 'accept-encoding': 'identity' },
    connect: { ca: [...rootCertificates, ca.caCertPem], rejectUnauthorized: true },
    timeouts,
    ...extra,
  });

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'pullgate-direct-'));
    ca = await createTestCa(dir);
    const cert = await ca.issue('localhost', ['localhost'], ['127.0.0.1']);
    const wrong = await ca.issue('elsewhere', ['elsewhere.test']);
    server = await startScriptedServer({ tls: { cert: cert.certPem, key: cert.keyPem } }, ({ socket }) => answer(socket, 200, blob));
    other = await startScriptedServer({ tls: { cert: wrong.certPem, key: wrong.keyPem } }, ({ socket }) => answer(socket, 200, blob));
  });
  after(async () => {
    await server.close();
    await other.close();
    await rm(dir, { recursive: true, force: true });
  });

  test('a 200 body arrives byte-exact through chunks(); the request carries Host with its port and connection: close', async () => {
    server.script = ({ socket }) => answer(socket, 200, blob, { 'x-a': '1', 'X-A': '2' });
    const res = response(await directGet(options('/v2/x/blobs/sha256:ab?n=1', { headers: { 'user-agent': 'pullgate-test', range: 'bytes=0-' } })));
    assert.equal(res.status, 200);
    assert.deepEqual(res.headers['x-a'], ['1', '2']);
    const buffers = new Set<ArrayBufferLike>();
    const source = res.body.chunks();
    assert.ok(source);
    const parts: Buffer[] = [];
    const error = await new Promise<Error | undefined>((resolve) =>
      source.deliver(
        (chunk) => {
          buffers.add(chunk.buffer);
          parts.push(Buffer.from(chunk));
        },
        resolve,
      ),
    );
    assert.equal(error, undefined);
    const bytes = Buffer.concat(parts);
    assert.ok(bytes.equals(blob), `got ${bytes.length} bytes of ${blob.length}`);
    assert.ok(parts.length > 10 && buffers.size <= 2, `${parts.length} chunks in ${buffers.size} buffers: one reused read buffer (and the bytes read with the head)`);
    const head = server.heads.at(-1) ?? '';
    assert.match(head, /^GET \/v2\/x\/blobs\/sha256:ab\?n=1 HTTP\/1\.1\r\n/);
    assert.match(head, new RegExp(`\r\nhost: localhost:${server.port}\r\n`));
    assert.match(head, /\r\nconnection: close\r\n/);
    assert.match(head, /\r\nrange: bytes=0-\r\n/);
  });

  test('a chunk reader that pauses longer than the idle timeout is not timed out, and resumes byte-exact', async () => {
    server.script = ({ socket }) => answer(socket, 200, blob);
    const res = response(await directGet(options('/b', { timeouts: { ...timeouts, idle: 200 } })));
    const source = res.body.chunks();
    assert.ok(source);
    const parts: Buffer[] = [];
    let paused = false;
    const error = await new Promise<Error | undefined>((resolve) =>
      source.deliver(
        (chunk) => {
          parts.push(Buffer.from(chunk));
          if (paused || parts.length !== 3) return;
          paused = true;
          source.pause();
          setTimeout(() => source.resume(), 600);
        },
        resolve,
      ),
    );
    assert.equal(error, undefined);
    assert.ok(paused);
    assert.ok(Buffer.concat(parts).equals(blob));
  });

  test('the same body arrives byte-exact through the Readable face', async () => {
    server.script = ({ socket }) => answer(socket, 200, blob);
    const res = response(await directGet(options('/b')));
    assert.ok((await readAll(res.body)).equals(blob));
  });

  test('chunks() after a read through the Readable face is undefined; a second chunks() too', async () => {
    server.script = ({ socket }) => answer(socket, 200, blob);
    const res = response(await directGet(options('/b')));
    await new Promise((resolve) => res.body.once('readable', resolve));
    assert.ok(res.body.read(), 'read through the Readable face');
    assert.equal(res.body.chunks(), undefined);
    res.body.destroy();
    const again = response(await directGet(options('/b')));
    assert.ok(again.body.chunks());
    assert.equal(again.body.chunks(), undefined);
    again.body.destroy();
  });

  test('a body shorter than its Content-Length (the connection closes early) is an error on both faces', async () => {
    server.script = ({ socket }) => {
      socket.write(`HTTP/1.1 200 OK\r\ncontent-length: ${blob.length}\r\n\r\n`);
      socket.end(blob.subarray(0, 100_000));
    };
    const viaChunks = await readChunks(response(await directGet(options('/b'))).body);
    assert.ok(viaChunks.error, 'chunks end with an error');
    assert.equal(viaChunks.bytes.length, 100_000);
    await assert.rejects(readAll(response(await directGet(options('/b'))).body), /other side closed/);
  });

  test('bytes beyond the Content-Length are ignored and the body ends cleanly', async () => {
    server.script = ({ socket }) => {
      socket.write(`HTTP/1.1 200 OK\r\ncontent-length: 10\r\n\r\n0123456789HTTP/1.1 200 OK\r\n\r\n`);
      setTimeout(() => socket.end('more and more'), 50);
    };
    const { bytes, error } = await readChunks(response(await directGet(options('/b'))).body);
    assert.equal(error, undefined);
    assert.equal(bytes.toString(), '0123456789');
    assert.equal((await readAll(response(await directGet(options('/b'))).body)).toString(), '0123456789');
  });

  test('a stalled body fails after the idle timeout (re-armed per chunk, not a total deadline) as a body timeout', async () => {
    server.script = ({ socket }) => {
      socket.write(`HTTP/1.1 200 OK\r\ncontent-length: 1000\r\n\r\n`);
      // Four chunks 150 ms apart (600 ms in all, beyond the 300 ms idle timeout), then silence.
      let sent = 0;
      const tick = setInterval(() => {
        if (socket.destroyed || sent === 4) return clearInterval(tick);
        socket.write('x'.repeat(10));
        sent++;
      }, 150);
    };
    const started = Date.now();
    const res = response(await directGet(options('/b', { timeouts: { ...timeouts, idle: 300 } })));
    const { bytes, error } = await readChunks(res.body);
    assert.equal(bytes.length, 40, 'every chunk sent before the stall arrived');
    assert.ok(error instanceof undiciErrors.BodyTimeoutError, String(error));
    assert.ok(Date.now() - started >= 800, 'the timer is re-armed per chunk');
    assert.ok(toUpstreamError(error, 'hub') instanceof RegistryError);
    assert.equal((toUpstreamError(error, 'hub') as RegistryError).code, 'UPSTREAM_TIMEOUT');
  });

  test('a body silent from its first byte on fails after the idle timeout; one that drips just under it does not', async () => {
    server.script = ({ socket }) => socket.write(`HTTP/1.1 200 OK\r\ncontent-length: 10\r\n\r\n`);
    const started = Date.now();
    const silent = await readChunks(response(await directGet(options('/b', { timeouts: { ...timeouts, idle: 300 } }))).body);
    assert.equal(silent.bytes.length, 0);
    assert.ok(silent.error instanceof undiciErrors.BodyTimeoutError, String(silent.error));
    assert.ok(Date.now() - started >= 290, `failed after ${Date.now() - started} ms`);

    server.script = ({ socket }) => {
      socket.write(`HTTP/1.1 200 OK\r\ncontent-length: 6\r\n\r\n`);
      // One byte every 200 ms under a 400 ms idle timeout: 1.2 s in all, never 400 ms quiet.
      let sent = 0;
      const tick = setInterval(() => {
        if (socket.destroyed || sent === 6) return clearInterval(tick);
        socket.write('y');
        sent++;
      }, 200);
    };
    const drip = await readChunks(response(await directGet(options('/b', { timeouts: { ...timeouts, idle: 400 } }))).body);
    assert.equal(drip.error, undefined);
    assert.equal(drip.bytes.toString(), 'yyyyyy');
  });

  test('headers that do not come in time are a headers timeout', async () => {
    server.script = () => undefined;
    const err = await directGet(options('/b', { timeouts: { ...timeouts, headers: 200 } })).then(() => undefined, (e: unknown) => e);
    assert.ok(err instanceof undiciErrors.HeadersTimeoutError, String(err));
    assert.equal((toUpstreamError(err, 'hub') as RegistryError).code, 'UPSTREAM_TIMEOUT');
  });

  test('a TLS handshake that never completes is a connect timeout', async () => {
    const silent = await startScriptedServer({}, () => undefined);
    try {
      const url = new URL(`https://localhost:${silent.port}/b`);
      const err = await directGet({ ...options('/b', { timeouts: { ...timeouts, connect: 200 } }), url }).then(() => undefined, (e: unknown) => e);
      assert.ok(err instanceof undiciErrors.ConnectTimeoutError, String(err));
      assert.equal((toUpstreamError(err, 'hub') as RegistryError).code, 'UPSTREAM_TIMEOUT');
      assert.equal(silent.heads.length, 0);
    } finally {
      await silent.close();
    }
  });

  test('an abort ends the exchange before the head and during the body', async () => {
    server.script = () => undefined;
    const early = new AbortController();
    const pending = directGet(options('/b', { signal: early.signal }));
    setTimeout(() => early.abort(), 50);
    await assert.rejects(pending, { name: 'AbortError' });

    server.script = ({ socket }) => socket.write(`HTTP/1.1 200 OK\r\ncontent-length: 1000\r\n\r\nabc`);
    const late = new AbortController();
    const res = response(await directGet(options('/b', { signal: late.signal })));
    const reading = readChunks(res.body);
    setTimeout(() => late.abort(), 50);
    const { error } = await reading;
    assert.equal(error?.name, 'AbortError');
  });

  test('a certificate for another name is refused (ERR_TLS_CERT_ALTNAME_INVALID), nothing is sent', async () => {
    const before = other.heads.length;
    const url = new URL(`https://localhost:${other.port}/b`);
    const err = await directGet({ ...options('/b'), url }).then(() => undefined, (e: unknown) => e);
    assert.equal((err as { code?: string }).code, 'ERR_TLS_CERT_ALTNAME_INVALID', String(err));
    assert.match((toUpstreamError(err, 'hub') as RegistryError).message, /does not match the host name/);
    assert.equal(other.heads.length, before);
  });

  test('an untrusted CA is refused unless verification is off', async () => {
    server.script = ({ socket }) => answer(socket, 200, Buffer.from('ok'));
    const err = await directGet({ ...options('/b'), connect: { rejectUnauthorized: true } }).then(() => undefined, (e: unknown) => e);
    assert.ok(/UNABLE_TO|SELF_SIGNED/.test(String((err as { code?: string }).code)), String(err));
    const res = response(await directGet({ ...options('/b'), connect: { rejectUnauthorized: false } }));
    assert.equal((await readAll(res.body)).toString(), 'ok');
  });

  test('Transfer-Encoding is not read here: not-direct, connection closed', async () => {
    server.script = ({ socket }) => socket.end('HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n');
    assert.deepEqual(await directGet(options('/b')), { kind: 'not-direct', status: 200, reason: 'Transfer-Encoding' });
  });

  test('a hostile head is refused with a stable code', async () => {
    server.script = ({ socket }) => socket.end('HTTP/1.1 200 OK\r\ncontent-length: 5\r\ncontent-length: 6\r\n\r\nhello');
    const err = await directGet(options('/b')).then(() => undefined, (e: unknown) => e);
    assert.equal((err as { code?: string }).code, 'PULLGATE_BAD_RESPONSE_HEAD');
  });

  test('a CR or LF in a header value or the path is refused before anything is dialled', async () => {
    const before = server.connections;
    await assert.rejects(directGet(options('/b', { headers: { range: 'bytes=0-\r\nx-injected: 1' } })), /invalid header/);
    await assert.rejects(directGet(options('/b', { headers: { 'bad name': 'x' } })), /invalid header/);
    await assert.rejects(directGet(options('/b', { headers: { 'x-a': 'a\0b' } })), /invalid header/);
    await assert.rejects(directGet(options('/b', { headers: { 'x-a': 'beyond latin1 \u2713' } })), /invalid header/);
    assert.equal(server.connections, before);
  });

  test('a 204 and an empty 200 end at once', async () => {
    server.script = ({ socket }) => socket.end('HTTP/1.1 204 No Content\r\n\r\n');
    assert.equal((await readAll(response(await directGet(options('/b'))).body)).length, 0);
    server.script = ({ socket }) => answer(socket, 200, Buffer.alloc(0));
    assert.equal((await readChunks(response(await directGet(options('/b'))).body)).bytes.length, 0);
  });

  test('destroy() on the chunk source ends it with that error and closes the connection', async () => {
    let serverSide: import('node:net').Socket | undefined;
    server.script = ({ socket }) => {
      serverSide = socket;
      socket.write(`HTTP/1.1 200 OK\r\ncontent-length: ${blob.length}\r\n\r\n`);
      socket.write(blob.subarray(0, 200_000));
    };
    const res = response(await directGet(options('/b')));
    const source = res.body.chunks();
    assert.ok(source);
    let after = 0;
    let destroyed = false;
    const error = await new Promise<Error | undefined>((resolve) =>
      source.deliver(
        () => {
          if (destroyed) after++;
          destroyed = true;
          source.destroy(new Error('enough'));
        },
        resolve,
      ),
    );
    assert.equal(error?.message, 'enough');
    assert.equal(after, 0, 'no chunk after destroy');
    await new Promise<void>((resolve) => (serverSide?.destroyed ? resolve() : serverSide?.once('close', () => resolve())));
  });

  test('dump() closes the connection at once', async () => {
    server.script = ({ socket }) => socket.write(`HTTP/1.1 307 X\r\nlocation: /there\r\ncontent-length: 100000000\r\n\r\n`);
    const res = response(await directGet(options('/b')));
    await res.body.dump();
    assert.ok(res.body.destroyed);
  });
});
