// Hostile upstreams against direct reads (src/upstream/direct/direct-get.ts) over real loopback TLS: heads split at
// every byte, heads that never end, informational answers, header values beyond ASCII, many connections sharing
// the one read buffer, and the sockets left behind by every failure (docs/security.md, "Mirror and upstream").
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer, type AddressInfo, type LookupFunction, type Server } from 'node:net';
import { once } from 'node:events';
import { rootCertificates, TLSSocket } from 'node:tls';
import { after, before, describe, test } from 'node:test';
import { Agent, errors as undiciErrors, request } from 'undici';
import { directGet, type DirectAnswer, type DirectGetOptions } from '../../src/upstream/direct/direct-get.js';
import type { DirectBody } from '../../src/upstream/direct/direct-body.js';
import { chunkSourceOf, readableChunks } from '../../src/upstream/chunk-source.js';
import { createTestCa, type TestCa } from '../support/pki.js';
import { answer, startScriptedServer, type ScriptedServer } from '../support/scripted-http-server.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function readChunks(body: DirectBody): Promise<{ bytes: Buffer; error?: Error }> {
  const source = body.chunks();
  assert.ok(source);
  const parts: Buffer[] = [];
  return new Promise((resolve) => {
    source.deliver(
      (chunk) => parts.push(Buffer.from(chunk)),
      (error) => resolve({ bytes: Buffer.concat(parts), ...(error ? { error } : {}) }),
    );
  });
}

const response = (a: DirectAnswer): Extract<DirectAnswer, { kind: 'response' }> => {
  assert.equal(a.kind, 'response', JSON.stringify(a));
  return a as Extract<DirectAnswer, { kind: 'response' }>;
};

describe('direct GET against a hostile upstream', () => {
  let dir: string;
  let ca: TestCa;
  let server: ScriptedServer;
  const timeouts = { connect: 2000, headers: 2000, idle: 2000 };
  const options = (path: string, extra: Partial<DirectGetOptions> = {}): DirectGetOptions => ({
    url: new URL(`https://localhost:${server.port}${path}`),
    headers: { 'user-agent': 'pullgate-test' },
    connect: { ca: [...rootCertificates, ca.caCertPem], rejectUnauthorized: true },
    timeouts,
    ...extra,
  });
  let undiciAgent: Agent;
  const viaUndici = (path: string) =>
    request(`https://localhost:${server.port}${path}`, { dispatcher: undiciAgent, headersTimeout: 2000, bodyTimeout: 2000 });

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'pullgate-direct-hostile-'));
    ca = await createTestCa(dir);
    const cert = await ca.issue('localhost', ['localhost'], ['127.0.0.1']);
    server = await startScriptedServer({ tls: { cert: cert.certPem, key: cert.keyPem } }, ({ socket }) => answer(socket, 200, Buffer.from('x')));
    undiciAgent = new Agent({ connect: { ca: [...rootCertificates, ca.caCertPem] } });
  });
  after(async () => {
    await undiciAgent.close();
    await server.close();
    await rm(dir, { recursive: true, force: true });
  });

  test('a head split at every byte boundary is read the same', async () => {
    const head = 'HTTP/1.1 200 OK\r\nx-a: 1\r\ncontent-length: 5\r\n\r\nhello';
    for (let k = 1; k < head.length; k++) {
      server.script = ({ socket }) => {
        socket.write(head.slice(0, k), 'latin1');
        setTimeout(() => socket.end(head.slice(k), 'latin1'), 15);
      };
      const res = response(await directGet(options('/b')));
      assert.equal(res.headers['x-a'], '1', `split at ${k}`);
      const { bytes, error } = await readChunks(res.body);
      assert.equal(error, undefined, `split at ${k}`);
      assert.equal(bytes.toString(), 'hello', `split at ${k}`);
    }
  });

  test('a 103 Early Hints before the 200 (a CDN\'s) is skipped as undici skips it; a 100 is refused by both', async () => {
    const both = async (): Promise<{ undici: string; direct: string }> => ({
      undici: await viaUndici('/b').then((r) => r.body.text().then((t) => `${r.statusCode} ${t}`)).catch((e: unknown) => `error ${(e as Error).name}`),
      direct: await directGet(options('/b'))
        .then(async (a) => `${response(a).status} ${(await readChunks(response(a).body)).bytes.toString()}`)
        .catch((e: unknown) => `error ${(e as Error).name}`),
    });
    server.script = ({ socket }) => {
      socket.write('HTTP/1.1 103 Early Hints\r\nlink: </a>; rel=preload\r\n\r\n');
      setTimeout(() => socket.end('HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok'), 20);
    };
    assert.deepEqual(await both(), { undici: '200 ok', direct: '200 ok' });
    server.script = ({ socket }) => socket.end('HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok');
    const { undici, direct } = await both();
    assert.match(undici, /^error/);
    assert.match(direct, /^error/);
  });

  test('a Location with obs-text (raw UTF-8 bytes) names the same URL as through undici', async () => {
    const loc = Buffer.concat([Buffer.from('HTTP/1.1 307 X\r\ncontent-length: 0\r\nlocation: /caf'), Buffer.from('é', 'utf8'), Buffer.from('\r\n\r\n')]);
    server.script = ({ socket }) => socket.end(loc);
    const viaU = await viaUndici('/b');
    await viaU.body.dump();
    const direct = response(await directGet(options('/b')));
    await direct.body.dump();
    assert.equal(new URL(String(direct.headers.location), 'https://x').href, new URL(String(viaU.headers.location), 'https://x').href);
  });

  test('a timeout of 0 is no timeout, as undici reads it (the config allows 0): a slow head and a pause in the body are waited for', async () => {
    server.script = ({ socket }) => {
      setTimeout(() => socket.write('HTTP/1.1 200 OK\r\ncontent-length: 10\r\n\r\n01234'), 60);
      setTimeout(() => socket.end('56789'), 120);
    };
    const none = { connect: 0, headers: 0, idle: 0 };
    const viaU = await request(`https://localhost:${server.port}/b`, { dispatcher: undiciAgent, headersTimeout: none.headers, bodyTimeout: none.idle });
    assert.equal(await viaU.body.text(), '0123456789');
    const res = response(await directGet(options('/b', { timeouts: none })));
    const { bytes, error } = await readChunks(res.body);
    assert.equal(error, undefined);
    assert.equal(bytes.toString(), '0123456789');
  });

  test('a body that breaks before anyone reads it still ends its reader with the error, through either face', async () => {
    server.script = ({ socket }) => socket.end('HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\nabc');
    for (const face of ['chunks', 'readable'] as const) {
      const res = response(await directGet(options('/b')));
      await sleep(100);
      const source = face === 'chunks' ? chunkSourceOf(res.body) : readableChunks(res.body);
      const parts: Buffer[] = [];
      const error = await new Promise<Error | undefined>((resolve) => source.deliver((c) => parts.push(Buffer.from(c)), resolve));
      assert.ok(error, `${face}: the reader hears the break`);
      assert.ok(Buffer.concat(parts).length <= 3, face);
    }
  });

  test('a head that never ends: a slow one meets the headers timeout, a fast one the 64 KiB cap', async () => {
    server.script = ({ socket }) => {
      socket.write('HTTP/1.1 200 OK\r\n');
      const t = setInterval(() => (socket.destroyed ? clearInterval(t) : socket.write('x-a: b\r\n')), 10);
    };
    const started = Date.now();
    const slow = await directGet(options('/b', { timeouts: { ...timeouts, headers: 400 } })).then(() => undefined, (e: unknown) => e);
    assert.ok(slow instanceof undiciErrors.HeadersTimeoutError, String(slow));
    assert.ok(Date.now() - started < 1500, 'bytes trickling in do not re-arm the headers timeout');
    server.script = ({ socket }) => {
      socket.write('HTTP/1.1 200 OK\r\n');
      socket.write(`x-a: ${'b'.repeat(70_000)}`);
    };
    const big = await directGet(options('/b')).then(() => undefined, (e: unknown) => e);
    assert.equal((big as { code?: string }).code, 'PULLGATE_BAD_RESPONSE_HEAD');
    assert.match(String(big), /larger than 65536/);
  });

  test('eight connections read at once share the one read buffer: every body byte-exact, on both faces, with pauses', async () => {
    const blobs = new Map<string, Buffer>();
    for (let i = 0; i < 8; i++) blobs.set(`/b${i}`, randomBytes(1024 * 1024 + i * 7919));
    server.script = ({ head, socket }) => {
      const path = head.split(' ')[1] ?? '';
      const blob = blobs.get(path) ?? Buffer.alloc(0);
      socket.write(`HTTP/1.1 200 OK\r\ncontent-length: ${blob.length}\r\n\r\n`);
      let at = 0;
      const pump = () => {
        while (at < blob.length && !socket.destroyed) {
          const n = 1 + Math.floor(Math.random() * 40_000);
          const ok = socket.write(blob.subarray(at, at + n));
          at += n;
          if (!ok) return socket.once('drain', pump);
          if (Math.random() < 0.05) return setTimeout(pump, 2);
        }
        socket.end();
      };
      pump();
    };
    const results = await Promise.all(
      [...blobs.keys()].map(async (path, i) => {
        const res = response(await directGet(options(path)));
        if (i % 2 === 1) {
          const parts: Buffer[] = [];
          for await (const c of res.body) {
            parts.push(c as Buffer);
            if (Math.random() < 0.1) await sleep(3);
          }
          return Buffer.concat(parts);
        }
        const source = res.body.chunks();
        assert.ok(source);
        const hash: Buffer[] = [];
        return new Promise<Buffer>((resolve, reject) =>
          source.deliver(
            (chunk) => {
              hash.push(Buffer.from(chunk));
              if (Math.random() < 0.1) {
                source.pause();
                setTimeout(() => source.resume(), 3);
              }
            },
            (err) => (err ? reject(err) : resolve(Buffer.concat(hash))),
          ),
        );
      }),
    );
    [...blobs.values()].forEach((b, i) => assert.equal(createHash('sha256').update(results[i]!).digest('hex'), createHash('sha256').update(b).digest('hex'), `blob ${i}`));
  });

  test('bodies paused and resumed from inside other bodies\' chunk callbacks: no chunk changes during its call, every body byte-exact', async () => {
    const blobs = Array.from({ length: 6 }, (_, i) => randomBytes(1024 * 1024 + i * 1013));
    server.script = ({ head, socket }) => {
      const blob = blobs[Number(head.split(' ')[1]?.slice(2))] ?? Buffer.alloc(0);
      socket.write(`HTTP/1.1 200 OK\r\ncontent-length: ${blob.length}\r\n\r\n`);
      let at = 0;
      const pump = (): void => {
        while (at < blob.length && !socket.destroyed) {
          const n = 1 + Math.floor(Math.random() * 30_000);
          const ok = socket.write(blob.subarray(at, at + n));
          at += n;
          if (!ok) return void socket.once('drain', pump);
          if (Math.random() < 0.1) return void setImmediate(pump);
        }
        socket.end();
      };
      pump();
    };
    for (let round = 0; round < 3; round++) {
      const answers = await Promise.all(blobs.map((_, i) => directGet(options(`/b${i}`))));
      const sources = answers.map((a) => {
        const source = response(a).body.chunks();
        assert.ok(source);
        return source;
      });
      const paused = new Set<number>();
      const resumeAll = (): void => {
        for (const k of paused) sources[k]?.resume();
        paused.clear();
      };
      const kick = setInterval(resumeAll, 3);
      const digests = await Promise.all(
        sources.map(
          (source, i) =>
            new Promise<string>((resolve, reject) => {
              const hash = createHash('sha256');
              source.deliver(
                (chunk) => {
                  const before = Buffer.from(chunk);
                  const j = Math.floor(Math.random() * sources.length);
                  const r = Math.random();
                  if (r < 0.2 && j !== i) {
                    sources[j]?.pause();
                    paused.add(j);
                  } else if (r < 0.5) resumeAll();
                  assert.ok(before.equals(chunk), `the chunk of body ${i} changed during its call`);
                  hash.update(chunk);
                },
                (err) => (err ? reject(err) : resolve(hash.digest('hex'))),
              );
            }),
        ),
      );
      clearInterval(kick);
      digests.forEach((d, i) => assert.equal(d, createHash('sha256').update(blobs[i] ?? '').digest('hex'), `round ${round}, body ${i}`));
    }
  });

  test('no file descriptor is left behind by any failure: early close, close before the head, bad head, stall, RST, refused dial, dump, a destroyed partial read', async () => {
    const fds = async () => (await readdir('/proc/self/fd')).length;
    const rst = await startRstServer(ca);
    try {
      await sleep(100);
      const before = await fds();
      const quick = { ...timeouts, idle: 100, headers: 300 };
      const scripts: Array<ScriptedServer['script']> = [
        ({ socket }) => socket.end('HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\nabc'),
        ({ socket }) => socket.destroy(),
        ({ socket }) => socket.end('HTTP/1.1 200 OK\r\ncontent-length: 1\r\ncontent-length: 2\r\n\r\n'),
        ({ socket }) => socket.write('HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\nabc'),
        () => undefined,
      ];
      for (let round = 0; round < 10; round++) {
        for (const script of scripts) {
          server.script = script;
          const a = await directGet(options('/b', { timeouts: quick })).catch(() => undefined);
          if (a?.kind === 'response') assert.ok((await readChunks(a.body)).error);
        }
        const reset = response(await directGet({ ...options('/b'), url: new URL(`https://localhost:${rst.port}/b`) }));
        assert.equal((await readChunks(reset.body)).error?.message, 'read ECONNRESET');
        const refusing: LookupFunction = (_host, _options, callback) => callback(new Error('private address'), '', 4);
        await assert.rejects(directGet(options('/b', { connect: { ...options('/b').connect, lookup: refusing } })), /private address/);
        server.script = ({ socket }) => socket.write('HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\nabc');
        await response(await directGet(options('/b'))).body.dump();
        const partial = response(await directGet(options('/b')));
        await once(partial.body, 'readable');
        partial.body.read(1);
        partial.body.destroy();
      }
      await sleep(300);
      assert.equal(await fds(), before);
    } finally {
      await new Promise((r) => rst.close(r));
    }
  });
});

/** A TLS server over a TCP socket of its own, which it resets (RST) 50 ms into a body that announced more. */
async function startRstServer(ca: TestCa): Promise<Server & { port: number }> {
  const cert = await ca.issue('localhost', ['localhost'], ['127.0.0.1']);
  const server = createServer((raw) => {
    const tls = new TLSSocket(raw, { isServer: true, cert: cert.certPem, key: cert.keyPem, ALPNProtocols: ['http/1.1'] });
    tls.on('error', () => undefined);
    raw.on('error', () => undefined);
    tls.once('data', () => {
      tls.write('HTTP/1.1 200 OK\r\ncontent-length: 100000\r\n\r\nabc');
      setTimeout(() => raw.resetAndDestroy(), 50);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return Object.assign(server, { port: (server.address() as AddressInfo).port });
}
