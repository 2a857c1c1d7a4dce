// Who may pull what, over real sockets against in-process fake upstreams: address allow/deny lists (with trusted
// proxies), Pullgate's own users (Basic and tokens from /auth/token), per-client request and transfer limits, the
// client idle timeout, and the repository policy, all decided before any upstream request. The same rules with real
// clients: test/e2e/access-control-clients.test.ts.
import assert from 'node:assert/strict';
import { connect as h2connect } from 'node:http2';
import { connect } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { request } from 'undici';
import { hashPassword } from '../../src/access/password.js';
import { FakeUpstream } from '../support/fake/fake-upstream.js';
import { errorCode, get } from '../support/fake/mirror-over-fake.js';
import { startMirror, type TestMirror } from '../support/mirror-app.js';
import { httpsListener, mirrorTls, protocols, registryClient, type Protocol, type RegistryClient } from '../support/registry-client.js';

const basic = (user: string, password: string): string => `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;

async function withMirror(up: FakeUpstream, config: Record<string, unknown>, work: (m: TestMirror) => Promise<void>): Promise<void> {
  const m = await startMirror({ upstreams: [{ name: 'hub', registry: 'docker.io', url: up.url, default: true }], ...config });
  try {
    await work(m);
  } finally {
    await m.close();
  }
}

/** withMirror with the HTTPS listener too, and a client of it speaking `protocol`. */
async function withClient(protocol: Protocol, up: FakeUpstream, config: Record<string, unknown>, work: (c: RegistryClient) => Promise<void>): Promise<void> {
  await withMirror(up, { ...(await httpsListener()), ...config }, async (m) => {
    const c = await registryClient(protocol, m);
    try {
      await work(c);
    } finally {
      await c.close();
    }
  });
}

describe('access control', () => {
  let up: FakeUpstream;
  let alpineDigest: string;
  let layerDigest: string;

  before(async () => {
    up = await new FakeUpstream().start();
    const m = up.addImage('library/alpine', '3.20', [Buffer.alloc(2000, 1)]);
    alpineDigest = m.digest;
    layerDigest = (JSON.parse(m.bytes.toString()) as { layers: Array<{ digest: string }> }).layers[0]?.digest ?? '';
    up.addImage('library/evil', 'latest', [Buffer.alloc(100, 9)]);
    up.addImage('library/busybox', '1.36', [Buffer.alloc(100, 5)]);
  });
  after(() => up?.stop());

  describe('addresses', () => {
    test('a denied address gets DENIED on /v2/ and on pulls, and the upstream is never asked', async () => {
      await withMirror(up, { access: { deny: ['127.0.0.0/8'] } }, async (m) => {
        const asked = up.count();
        for (const path of ['/v2/', '/v2/alpine/manifests/3.20', `/v2/alpine/blobs/${layerDigest}`]) {
          const r = await get(m.url, path);
          assert.equal(r.status, 403, path);
          assert.equal(errorCode(r), 'DENIED', path);
          assert.match(String(r.headers['content-type']), /application\/json/);
        }
        assert.equal(up.count(), asked);
      });
    });

    test('an allow list admits only its addresses; an upstream may override the global list', async () => {
      await withMirror(
        up,
        {
          access: { allow: ['10.0.0.0/8'] },
          upstreams: [
            { name: 'hub', registry: 'docker.io', url: up.url, default: true },
            { name: 'open', registry: 'open.example.test', url: up.url, hosts: ['open.mirror.test'], access: { allow: ['127.0.0.1', '::1'] } },
          ],
        },
        async (m) => {
          assert.equal(errorCode(await get(m.url, '/v2/alpine/manifests/3.20')), 'DENIED');
          const open = await get(m.url, '/v2/library/alpine/manifests/3.20', { headers: { host: 'open.mirror.test' } });
          assert.equal(open.status, 200);
        },
      );
    });

    test('X-Forwarded-For is believed only from a trusted proxy, read from the right', async () => {
      await withMirror(up, { access: { allow: ['192.0.2.10'], trustedProxies: ['127.0.0.1'] } }, async (m) => {
        const asClient = (xff: string) => get(m.url, '/v2/alpine/manifests/3.20', { headers: { 'x-forwarded-for': xff } });
        assert.equal((await asClient('192.0.2.10')).status, 200);
        // The client may put anything first; the proxy appends the address it saw.
        assert.equal(errorCode(await asClient('192.0.2.10, 198.51.100.7')), 'DENIED');
        assert.equal((await asClient('198.51.100.7, 192.0.2.10')).status, 200);
        assert.equal(errorCode(await asClient('not-an-address')), 'DENIED');
        assert.equal(errorCode(await get(m.url, '/v2/alpine/manifests/3.20')), 'DENIED', 'no header: the proxy itself is not allowed');
      });
      await withMirror(up, { access: { allow: ['192.0.2.10'] } }, async (m) => {
        const r = await get(m.url, '/v2/alpine/manifests/3.20', { headers: { 'x-forwarded-for': '192.0.2.10' } });
        assert.equal(errorCode(r), 'DENIED', 'an untrusted peer cannot claim another address');
      });
    });
  });

  for (const protocol of protocols) describe(`Pullgate's own users (${protocol})`, () => {
    let m: TestMirror;
    let c: RegistryClient;
    before(async () => {
      m = await startMirror({
        ...(await httpsListener()),
        access: { login: 'required', users: [{ username: 'ci', passwordHash: await hashPassword('ci-password-1') }] },
        upstreams: [{ name: 'hub', registry: 'docker.io', url: up.url, default: true }],
      });
      c = await registryClient(protocol, m);
    });
    after(async () => {
      await c?.close();
      await m?.close();
    });

    test('without credentials: 401 UNAUTHORIZED with a bearer challenge naming the mirror\'s token endpoint', async () => {
      for (const path of ['/v2/', '/v2/alpine/manifests/3.20']) {
        const r = await get(c, path);
        assert.equal(r.status, 401, path);
        assert.equal(errorCode(r), 'UNAUTHORIZED');
        assert.equal(r.headers['www-authenticate'], `Bearer realm="${c.origin}/auth/token",service="pullgate"`);
      }
    });

    test('the token endpoint trades Basic credentials for a bearer token that pulls; wrong ones get 401', async () => {
      const wrong = await get(c, '/auth/token?service=pullgate&scope=repository:library/alpine:pull', { headers: { authorization: basic('ci', 'nope') } });
      assert.equal(wrong.status, 401);
      assert.equal(errorCode(wrong), 'UNAUTHORIZED');
      const anonymous = await get(c, '/auth/token?service=pullgate');
      assert.equal(anonymous.status, 401);

      const res = await get(c, '/auth/token?service=pullgate&scope=repository:library/alpine:pull', { headers: { authorization: basic('ci', 'ci-password-1') } });
      assert.equal(res.status, 200);
      assert.equal(res.headers['cache-control'], 'no-store');
      const body = JSON.parse(res.body.toString()) as { token: string; access_token: string; expires_in: number; issued_at: string };
      assert.equal(body.token, body.access_token);
      assert.equal(body.expires_in, 3600);
      const bearer = { authorization: `Bearer ${body.token}` };
      assert.equal((await get(c, '/v2/', { headers: bearer })).status, 200);
      assert.equal((await get(c, '/v2/alpine/manifests/3.20', { headers: bearer })).status, 200);
      const tampered = `${body.token.slice(0, -2)}xx`;
      assert.equal(errorCode(await get(c, '/v2/alpine/manifests/3.20', { headers: { authorization: `Bearer ${tampered}` } })), 'UNAUTHORIZED');
      assert.ok(!m.logs.some((l) => l.includes(body.token) || l.includes('ci-password-1')), 'tokens and passwords never reach the log');
    });

    test('the OAuth2 password grant (containerd) gets a token; other grants are refused', async () => {
      const form = (fields: Record<string, string>) =>
        c.fetch('/auth/token', { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams(fields).toString() });
      const ok = await form({ grant_type: 'password', username: 'ci', password: 'ci-password-1', service: 'pullgate', client_id: 'containerd' });
      assert.equal(ok.status, 200);
      assert.ok((JSON.parse(ok.body.toString()) as { access_token?: string }).access_token);
      const bad = await form({ grant_type: 'password', username: 'ci', password: 'x' });
      assert.equal(bad.status, 401);
      const refresh = await form({ grant_type: 'refresh_token', refresh_token: 'x' });
      assert.equal(refresh.status, 405);
    });

    test('Basic credentials work on every request too; a wrong password is 401', async () => {
      assert.equal((await get(c, '/v2/alpine/manifests/3.20', { headers: { authorization: basic('ci', 'ci-password-1') } })).status, 200);
      assert.equal(errorCode(await get(c, '/v2/alpine/manifests/3.20', { headers: { authorization: basic('ci', 'wrong-password') } })), 'UNAUTHORIZED');
    });

    test('a passthrough upstream cannot also require a login (config error naming the field)', async () => {
      await assert.rejects(
        startMirror({ access: { login: 'required' }, upstreams: [{ name: 'p', registry: 'p.example.test', url: up.url, auth: { mode: 'passthrough' } }] }),
        /upstreams\[0\]\.access\.login/,
      );
    });
  });

  for (const protocol of protocols) describe(`repository policy (${protocol})`, () => {
    test('a denied repository is refused by tag and by digest before any upstream request', async () => {
      await withClient(protocol, up, { upstreams: [{ name: 'hub', registry: 'docker.io', url: up.url, default: true, policy: { deny: ['library/evil*'] } }] }, async (c) => {
        const asked = up.count();
        const byTag = await get(c, '/v2/evil/manifests/latest');
        assert.equal(byTag.status, 403);
        assert.equal(errorCode(byTag), 'DENIED');
        assert.match(byTag.body.toString(), /library\/evil/);
        assert.equal(errorCode(await get(c, `/v2/evil/manifests/${alpineDigest}`)), 'DENIED');
        assert.equal(errorCode(await get(c, '/v2/evil/tags/list')), 'DENIED');
        assert.equal(up.count(), asked, 'the upstream is never asked');
        assert.equal((await get(c, '/v2/alpine/manifests/3.20')).status, 200);
      });
    });

    test('content cached under an allowed repository is not served under a denied one', async () => {
      await withClient(protocol, up, { upstreams: [{ name: 'hub', registry: 'docker.io', url: up.url, default: true, policy: { deny: ['library/evil'] } }] }, async (c) => {
        assert.equal((await get(c, `/v2/alpine/blobs/${layerDigest}`)).status, 200);
        assert.equal((await get(c, `/v2/alpine/manifests/${alpineDigest}`)).status, 200);
        assert.equal(errorCode(await get(c, `/v2/evil/blobs/${layerDigest}`)), 'DENIED');
        assert.equal(errorCode(await get(c, `/v2/evil/manifests/${alpineDigest}`)), 'DENIED');
      });
    });

    test('with allow rules only those repositories (and tags) are served; a digest is judged by its repository', async () => {
      await withClient(protocol, up, { upstreams: [{ name: 'hub', registry: 'docker.io', url: up.url, default: true, policy: { allow: ['library/alpine:3.*'] } }] }, async (c) => {
        assert.equal((await get(c, '/v2/alpine/manifests/3.20')).status, 200);
        assert.equal((await get(c, `/v2/alpine/manifests/${alpineDigest}`)).status, 200);
        assert.equal(errorCode(await get(c, '/v2/alpine/manifests/latest')), 'DENIED');
        assert.equal(errorCode(await get(c, '/v2/busybox/manifests/1.36')), 'DENIED');
      });
    });

    test('bad rules are config errors naming the field', async () => {
      await assert.rejects(
        startMirror({ upstreams: [{ name: 'hub', registry: 'docker.io', url: up.url, policy: { deny: ['Not A Repo'] } }] }),
        /upstreams\[0\]\.policy\.deny\[0\]: expected repository\[:tag\]/,
      );
      await assert.rejects(startMirror({ access: { allow: ['10.0.0.0/33'] } }), /access\.allow\[0\]: expected an address or a CIDR block/);
    });
  });

  describe('per-client limits', () => {
    test('the request rate is limited per client with TOOMANYREQUESTS and Retry-After', async () => {
      await withMirror(up, { access: { limits: { requestsPerSecond: 0.5, burst: 3 } } }, async (m) => {
        for (let i = 0; i < 3; i++) assert.equal((await get(m.url, '/v2/')).status, 200);
        const r = await get(m.url, '/v2/');
        assert.equal(r.status, 429);
        assert.equal(errorCode(r), 'TOOMANYREQUESTS');
        assert.ok(Number(r.headers['retry-after']) >= 1);
      });
    });

    test('blob transfers at once are limited per client; a finished one frees its place', async () => {
      const slow = await new FakeUpstream().start();
      const m1 = slow.addImage('library/big', '1', [Buffer.alloc(2 * 1024 * 1024, 3)]);
      const big = (JSON.parse(m1.bytes.toString()) as { layers: Array<{ digest: string }> }).layers[0]?.digest ?? '';
      slow.faults.blobChunkDelayMs = 20;
      try {
        await withMirror(slow, { access: { limits: { concurrentTransfers: 1 } } }, async (m) => {
          const first = request(`${m.url}/v2/big/blobs/${big}`);
          const firstRes = await first;
          assert.equal(firstRes.statusCode, 200);
          const second = await get(m.url, `/v2/big/blobs/${big}`);
          assert.equal(second.status, 429);
          assert.equal(errorCode(second), 'TOOMANYREQUESTS');
          const body = Buffer.from(await firstRes.body.arrayBuffer());
          assert.equal(body.length, 2 * 1024 * 1024);
          slow.faults.blobChunkDelayMs = 0;
          // The place is freed when the response has ended, which may be just after the client has its bytes.
          let again = await get(m.url, `/v2/big/blobs/${big}`);
          for (let i = 0; i < 20 && again.status === 429; i++) {
            await new Promise((r) => setTimeout(r, 25));
            again = await get(m.url, `/v2/big/blobs/${big}`);
          }
          assert.equal(again.status, 200);
        });
      } finally {
        await slow.stop();
      }
    });

    test('a client that stops reading is disconnected after the idle timeout', { timeout: 30_000 }, async () => {
      const big = await new FakeUpstream().start();
      const m1 = big.addImage('library/huge', '1', [Buffer.alloc(48 * 1024 * 1024, 7)]);
      const layer = (JSON.parse(m1.bytes.toString()) as { layers: Array<{ digest: string }> }).layers[0]?.digest ?? '';
      try {
        await withMirror(big, { access: { clientIdleTimeout: '1s' } }, async (m) => {
          const { port } = new URL(m.url);
          const server = m.app.http?.server;
          assert.ok(server);
          const connections = () => new Promise<number>((resolve, reject) => server.getConnections((err, n) => (err ? reject(err) : resolve(n))));
          const socket = connect(Number(port), '127.0.0.1');
          socket.pause(); // reads nothing: the server's writes stall once the socket buffers are full
          socket.on('error', () => undefined);
          socket.write(`GET /v2/huge/blobs/${layer} HTTP/1.1\r\nhost: 127.0.0.1\r\n\r\n`);
          await new Promise((r) => setTimeout(r, 500));
          assert.equal(await connections(), 1);
          let open = 1;
          for (let i = 0; i < 100 && open > 0; i++) {
            await new Promise((r) => setTimeout(r, 100));
            open = await connections();
          }
          assert.equal(open, 0, 'the mirror dropped the stalled connection');
          // The client, reading again, gets what the buffers held and then the end: a cut transfer, not the blob.
          let received = 0;
          const ended = new Promise<void>((resolve) => socket.on('close', () => resolve()));
          socket.on('data', (d: Buffer) => (received += d.length));
          socket.resume();
          await ended;
          assert.ok(received < 48 * 1024 * 1024, `received ${received} bytes`);        });
      } finally {
        await big.stop();
      }
    });

    test('over HTTP/2, a stream that stops reading is cut after the idle timeout, not after the keep-alive time', { timeout: 60_000 }, async () => {
      const big = await new FakeUpstream().start();
      const m1 = big.addImage('library/huge', '1', [Buffer.alloc(48 * 1024 * 1024, 7)]);
      const layer = (JSON.parse(m1.bytes.toString()) as { layers: Array<{ digest: string }> }).layers[0]?.digest ?? '';
      const ca = (await mirrorTls()).caPem;
      // Once the stream's flow-control window is spent, no frame goes either way: the session is as quiet as a
      // stalled HTTP/1.1 connection. Returns how long the mirror kept it (capped at 20 s).
      const stalled = async (m: TestMirror): Promise<number> => {
        const session = h2connect(m.httpsUrl ?? '', { ca });
        session.on('error', () => undefined);
        try {
          const stream = session.request({ ':path': `/v2/huge/blobs/${layer}` });
          stream.on('error', () => undefined);
          await new Promise((r) => stream.once('response', r));
          stream.pause();
          const started = Date.now();
          await Promise.race([new Promise((r) => session.once('close', r)), new Promise((r) => setTimeout(r, 20_000))]);
          return Date.now() - started;
        } finally {
          session.destroy();
        }
      };
      try {
        await withMirror(big, { ...(await httpsListener()), timeouts: { keepAlive: '60s' }, access: { clientIdleTimeout: '1s' } }, async (m) => {
          const kept = await stalled(m);
          assert.ok(kept < 10_000, `a stalled stream kept ${kept} ms with a 1 s idle timeout`);
        });
        await withMirror(big, { ...(await httpsListener()), timeouts: { keepAlive: '1s' }, access: { clientIdleTimeout: '5s' } }, async (m) => {
          const kept = await stalled(m);
          assert.ok(kept >= 4_000, `a stalled stream cut after ${kept} ms with a 5 s idle timeout and a 1 s keep-alive`);
          // Without open streams, the keep-alive time still ends a session (GOAWAY, then close).
          const session = h2connect(m.httpsUrl ?? '', { ca });
          session.on('error', () => undefined);
          const closed = new Promise((r) => session.once('close', r));
          const ping = session.request({ ':path': '/v2/' });
          ping.resume();
          await new Promise((r) => ping.once('close', r));
          const idleFrom = Date.now();
          await Promise.race([closed, new Promise((r) => setTimeout(r, 10_000))]);
          session.destroy();
          assert.ok(Date.now() - idleFrom < 4_000, `an idle session kept ${Date.now() - idleFrom} ms with a 1 s keep-alive`);
        });
      } finally {
        await big.stop();
      }
    });
  });
});
