// Upstream.send with `direct` (src/upstream/direct/direct-get.ts wired into src/upstream/upstream.ts): the token
// dance and redirects work the same, the body hands over transient chunks, an answer the direct reader does not
// frame is asked again through undici, and the private-address guard of redirects holds for direct dials too.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { chunkSourceOf, hasTransientChunks } from '../../src/upstream/chunk-source.js';
import type { UpstreamBody } from '../../src/upstream/exchange.js';
import { Upstream } from '../../src/upstream/upstream.js';
import { RegistryError } from '../../src/registry/errors.js';
import { FakeUpstream } from '../support/fake/fake-upstream.js';
import { createTestCa } from '../support/pki.js';
import { answer, startScriptedServer, type ScriptedServer } from '../support/scripted-http-server.js';
import { upstreamConfig } from '../support/upstream-config.js';

const timeouts = { connect: 2000, headers: 2000, idle: 2000 };
const once = { attempts: 1, minDelayMs: 1, maxDelayMs: 1 };

function readBody(body: UpstreamBody): Promise<Buffer> {
  const parts: Buffer[] = [];
  return new Promise((resolve, reject) =>
    chunkSourceOf(body).deliver(
      (c) => parts.push(Buffer.from(c)),
      (err) => (err ? reject(err) : resolve(Buffer.concat(parts))),
    ),
  );
}

describe('direct reads through Upstream', () => {
  let up: FakeUpstream;
  let upstream: Upstream;
  const blob = randomBytes(2 * 1024 * 1024 + 5);
  let digest: string;

  before(async () => {
    up = await new FakeUpstream({ auth: true }).start();
    digest = up.addBlob(blob);
    upstream = new Upstream(upstreamConfig('hub', 'docker.io', { url: new URL(up.url), retries: once }), { timeouts });
  });
  after(async () => {
    await upstream.close();
    await up.stop();
  });

  const blobGets = () => up.requests.filter((r) => r.method === 'GET' && (r.path.includes('/blobs/') || r.origin === 'cdn'));
  const get = (direct: boolean) =>
    upstream.fetch({ method: 'GET', path: `/v2/library/alpine/blobs/${digest}`, repository: 'library/alpine', ...(direct ? { direct } : {}) });

  test('a direct GET answers 401, fetches a token, follows the redirect to the CDN and hands over the bytes as chunks', async () => {
    up.requests.length = 0;
    up.faults = { redirectBlobs: 'absolute' };
    const res = await get(true);
    assert.equal(res.status, 200);
    assert.equal(res.url.origin, new URL(up.cdnUrl).origin);
    assert.ok(hasTransientChunks(res.body), 'the body is a direct read');
    assert.ok((await readBody(res.body)).equals(blob));
    const hops = blobGets();
    assert.deepEqual(hops.map((r) => r.origin), ['registry', 'registry', 'cdn'], '401, then with the token, then the CDN');
    assert.ok(hops.every((r) => r.headers.connection === undefined), 'every hop was read directly (no Connection header, undici sends one)');
    assert.equal(hops[1]?.headers.authorization?.startsWith('Bearer '), true);
    assert.equal(hops[2]?.headers.authorization, undefined, 'the CDN gets no credentials');
  });

  test('without direct, the same request goes through undici (connection: keep-alive)', async () => {
    up.requests.length = 0;
    up.faults = {};
    const res = await get(false);
    assert.ok(!hasTransientChunks(res.body));
    assert.ok((await readBody(res.body)).equals(blob));
    assert.ok(blobGets().every((r) => r.headers.connection === 'keep-alive'));
  });
});

describe('direct reads: fallback and the private-address guard', () => {
  let dir: string;
  let server: ScriptedServer;
  let caPath: string;
  const body = randomBytes(300_000);

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'pullgate-direct-up-'));
    const ca = await createTestCa(dir);
    caPath = ca.caCertPath;
    const cert = await ca.issue('localhost', ['localhost'], ['127.0.0.1']);
    server = await startScriptedServer({ tls: { cert: cert.certPem, key: cert.keyPem } }, ({ socket }) => answer(socket, 200, body));
  });
  after(async () => {
    await server.close();
    await rm(dir, { recursive: true, force: true });
  });

  test('a chunked answer to a direct GET is asked again through undici and gives the right bytes', async () => {
    const chunked = (data: Buffer): Buffer =>
      Buffer.concat([Buffer.from('HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n'), Buffer.from(`${data.length.toString(16)}\r\n`), data, Buffer.from('\r\n0\r\n\r\n')]);
    server.script = ({ socket }) => socket.write(chunked(body));
    const fallbacks: string[] = [];
    const u = new Upstream(upstreamConfig('tls', 'tls.test', { url: new URL(`https://localhost:${server.port}`), ca: caPath, retries: once }), {
      timeouts,
      onDirectFallback: (_name, _origin, reason) => fallbacks.push(reason),
    });
    try {
      const heads = server.heads.length;
      const res = await u.fetch({ method: 'GET', path: '/v2/x/blobs/sha256:00', direct: true });
      assert.equal(res.status, 200);
      assert.ok((await readBody(res.body)).equals(body));
      const sent = server.heads.slice(heads);
      assert.equal(sent.length, 2, 'once directly, once through undici');
      assert.doesNotMatch(sent[0] ?? '', /\r\nconnection:/, 'the direct GET sends no Connection header');
      assert.match(sent[1] ?? '', /\r\nconnection: keep-alive\r\n/, 'undici does');
      assert.deepEqual(fallbacks, ['Transfer-Encoding']);
    } finally {
      await u.close();
    }
  });

  test('over TLS with the upstream\'s CA bundle, a direct GET reads the body', async () => {
    server.script = ({ socket }) => answer(socket, 200, body);
    const u = new Upstream(upstreamConfig('tls', 'tls.test', { url: new URL(`https://localhost:${server.port}`), ca: caPath, retries: once }), { timeouts });
    try {
      const res = await u.fetch({ method: 'GET', path: '/v2/x/blobs/sha256:00', direct: true });
      assert.ok(hasTransientChunks(res.body));
      assert.ok((await readBody(res.body)).equals(body));
    } finally {
      await u.close();
    }
  });

  test('a head the direct reader refuses fails as UNAVAILABLE and says why, in the error and the failure log', async () => {
    server.script = ({ socket }) => socket.end('HTTP/1.1 200 OK\ncontent-length: 5\n\nhello');
    const failures: string[] = [];
    const u = new Upstream(upstreamConfig('tls', 'tls.test', { url: new URL(`https://localhost:${server.port}`), ca: caPath, retries: once }), {
      timeouts,
      onFailure: (_name, _url, message) => failures.push(message),
    });
    try {
      const err = await u.fetch({ method: 'GET', path: '/v2/x/blobs/sha256:00', direct: true }).then(
        () => undefined,
        (e: unknown) => e,
      );
      assert.ok(err instanceof RegistryError, String(err));
      assert.equal(err.code, 'UNAVAILABLE');
      assert.match(err.message, /^upstream tls: refused response head: bare LF line ending \(PULLGATE_BAD_RESPONSE_HEAD\)$/);
      assert.deepEqual(failures, [err.message]);
    } finally {
      await u.close();
    }
  });

  test('with directReads off, a GET that asks for a direct read goes through undici', async () => {
    server.script = ({ socket }) => answer(socket, 200, body);
    const config = upstreamConfig('tls', 'tls.test', { url: new URL(`https://localhost:${server.port}`), ca: caPath, directReads: false, retries: once });
    const u = new Upstream(config, { timeouts });
    try {
      const heads = server.heads.length;
      const res = await u.fetch({ method: 'GET', path: '/v2/x/blobs/sha256:00', direct: true });
      assert.ok(!hasTransientChunks(res.body), 'an undici body');
      assert.ok((await readBody(res.body)).equals(body));
      const sent = server.heads.slice(heads);
      assert.equal(sent.length, 1);
      assert.match(sent[0] ?? '', /\r\nconnection: keep-alive\r\n/, 'sent by undici');
    } finally {
      await u.close();
    }
  });

  for (const target of ['name', 'literal'] as const) {
    test(`a public upstream's direct hop to a loopback ${target === 'name' ? 'name (localhost)' : 'address'} is refused and never dialled`, async () => {
      // registry.invalid does not resolve: it counts as public, so its redirects are guarded.
      const u = new Upstream(upstreamConfig('hub', 'docker.io', { url: new URL('https://registry.invalid'), retries: once }), { timeouts });
      const before = server.connections;
      try {
        const host = target === 'name' ? 'localhost' : '127.0.0.1';
        const err = await u.fetchResolved(new URL(`https://${host}:${server.port}/secret`), { method: 'GET', path: '/secret', direct: true }).then(
          () => undefined,
          (e: unknown) => e,
        );
        assert.ok(err instanceof RegistryError, String(err));
        assert.equal(err.code, 'UPSTREAM_INVALID');
        assert.match(err.message, /private address .*allowPrivateRedirects is off/);
        assert.equal(server.connections, before, 'the private target is never dialled');
      } finally {
        await u.close();
      }
    });
  }

  test('a direct hop to loopback in other spellings (short, hex, decimal, IPv4-mapped, NAT64) is refused and never dialled', async () => {
    const u = new Upstream(upstreamConfig('hub', 'docker.io', { url: new URL('https://registry.invalid'), retries: once }), { timeouts });
    const before = server.connections;
    try {
      for (const host of ['127.1', '0x7f000001', '2130706433', '[::ffff:127.0.0.1]', '[::ffff:7f00:1]', '[::1]', '[64:ff9b::7f00:1]']) {
        const err = await u.fetchResolved(new URL(`https://${host}:${server.port}/secret`), { method: 'GET', path: '/secret', direct: true }).then(
          () => undefined,
          (e: unknown) => e,
        );
        assert.ok(err instanceof RegistryError, `${host}: ${String(err)}`);
        assert.match(err.message, /private address/, host);
      }
      assert.equal(server.connections, before, 'no private target is dialled');
    } finally {
      await u.close();
    }
  });

  test('with allowPrivateRedirects, the same direct hop is dialled', async () => {
    server.script = ({ socket }) => answer(socket, 200, body);
    const config = upstreamConfig('hub', 'docker.io', { url: new URL('https://registry.invalid'), ca: caPath, allowPrivateRedirects: true, retries: once });
    const u = new Upstream(config, { timeouts });
    try {
      const res = await u.fetchResolved(new URL(`https://localhost:${server.port}/blob`), { method: 'GET', path: '/blob', direct: true });
      assert.ok(hasTransientChunks(res.body));
      assert.ok((await readBody(res.body)).equals(body));
    } finally {
      await u.close();
    }
  });
});
