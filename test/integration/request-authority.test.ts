// The authority a request was sent to (HTTP/2's :authority, else Host), over every protocol the listeners speak:
// host-mapped routing, realms that only ever name the mirror (docs/security.md, "Client and mirror"), and the
// refusal of authorities that cannot be read.
import assert from 'node:assert/strict';
import { connect as h2connect } from 'node:http2';
import { connect } from 'node:net';
import { after, before, beforeEach, describe, test } from 'node:test';
import { hashPassword } from '../../src/access/password.js';
import { FakeUpstream } from '../support/fake/fake-upstream.js';
import { errorCode, get, mirrorOverFake, type Setup } from '../support/fake/mirror-over-fake.js';
import { startMirror, type TestMirror } from '../support/mirror-app.js';
import { httpsListener, mirrorTls, protocols, registryClient, type RegistryClient } from '../support/registry-client.js';

const evil = { host: 'evil.example' };

/** The access-log line of the last request for `path`. */
function accessLine(logs: string[], path: string): Record<string, unknown> {
  const line = logs.map((l) => JSON.parse(l) as Record<string, unknown>).reverse().find((l) => l.msg === 'request' && l.url === path);
  assert.ok(line, `an access-log line for ${path}`);
  return line;
}

for (const protocol of protocols) {
  describe(`the request's authority (${protocol})`, () => {
    let s: Setup;
    let c: RegistryClient;
    let port: string;
    before(async () => {
      s = await mirrorOverFake({ auth: true, users: { alice: 'alice-pw' } });
      c = await s.client(protocol);
      port = new URL(c.origin).port;
      s.up.addImage('alpine', '1', [Buffer.alloc(10, 1)]);
      s.up.addImage('library/alpine', '1', [Buffer.alloc(10, 2)]);
      s.up.addImage('private/thing', '1', [Buffer.alloc(10, 3)]);
    });
    after(() => s.close());
    beforeEach(() => s.up.reset());

    test('a hostname mapped to an upstream routes to that upstream, and the access log names host and protocol', async () => {
      const r = await get(c, '/v2/alpine/manifests/1', { headers: { host: `gcr.mirror.test:${port}` } });
      assert.equal(r.status, 200);
      // gcr keeps the single-segment name; the default upstream (Docker Hub rules) would have asked for library/alpine.
      assert.ok(s.up.count((q) => q.path === '/v2/alpine/manifests/1') > 0);
      assert.equal(s.up.count((q) => q.path.startsWith('/v2/library/')), 0);
      const line = accessLine(s.mirror.logs, '/v2/alpine/manifests/1');
      assert.equal(line.upstream, 'gcr');
      assert.equal(line.via, 'host');
      assert.equal(line.host, `gcr.mirror.test:${port}`);
      assert.equal(line.http, protocol === 'h2' ? '2.0' : '1.1');
    });

    test('a mapped hostname is matched whatever its case and without its port', async () => {
      const r = await get(c, '/v2/alpine/manifests/1', { headers: { host: 'GCR.Mirror.Test' } });
      assert.equal(r.status, 200);
      assert.equal(accessLine(s.mirror.logs, '/v2/alpine/manifests/1').upstream, 'gcr');
    });

    test("the scheme's default port spelled out names the same host; over HTTP/2 a Host naming another is refused", async () => {
      const defaultPort = c.scheme === 'https' ? 443 : 80;
      // Some h2 clients send Host beside :authority with the default port spelled out in one of them; over HTTP/1.1
      // the one Host header carries it.
      const same =
        protocol === 'h2'
          ? [
              { ':authority': 'gcr.mirror.test', host: `gcr.mirror.test:${defaultPort}` },
              { ':authority': `gcr.mirror.test:${defaultPort}`, host: 'GCR.mirror.test' },
            ]
          : [{ host: `gcr.mirror.test:${defaultPort}` }];
      for (const headers of same) {
        const r = await get(c, '/v2/alpine/manifests/1', { headers });
        assert.equal(r.status, 200, JSON.stringify(headers));
        assert.equal(accessLine(s.mirror.logs, '/v2/alpine/manifests/1').upstream, 'gcr', JSON.stringify(headers));
      }
      if (protocol !== 'h2') return;
      const before = s.up.requests.length;
      for (const host of [`pass.mirror.test:${defaultPort}`, 'pass.mirror.test', 'gcr.mirror.test:8443', `gcr.mirror.test:${defaultPort === 443 ? 80 : 443}`]) {
        const r = await get(c, '/v2/alpine/manifests/1', { headers: { ':authority': 'gcr.mirror.test', host } });
        assert.equal(r.status, 400, host);
        assert.equal(errorCode(r), 'REQUEST_INVALID', host);
      }
      assert.equal(s.up.requests.length, before, 'no refused request reached the upstream');
    });

    test('a passthrough hostname answers /v2/ with a challenge whose realm is on that hostname', async () => {
      const r = await get(c, '/v2/', { headers: { host: `pass.mirror.test:${port}` } });
      assert.equal(r.status, 401);
      assert.equal(r.headers['www-authenticate'], `Bearer realm="${c.scheme}://pass.mirror.test:${port}/token/pass",service="fake-registry"`);
    });

    test('a passthrough hostname relays the upstream\'s 401 and then the client\'s token', async () => {
      const denied = await get(c, '/v2/private/thing/manifests/1', { headers: { host: 'pass.mirror.test' } });
      assert.equal(denied.status, 401);
      assert.match(String(denied.headers['www-authenticate']), new RegExp(`^Bearer realm="${c.scheme}://pass\\.mirror\\.test/token/pass"`));
      const basic = `Basic ${Buffer.from('alice:alice-pw').toString('base64')}`;
      const t = await get(c, '/token/pass?scope=repository:private/thing:pull', { headers: { host: 'pass.mirror.test', authorization: basic } });
      assert.equal(t.status, 200);
      const token = (JSON.parse(t.body.toString()) as { token: string }).token;
      const relayed = s.mirror.logs.map((l) => JSON.parse(l) as Record<string, unknown>).reverse().find((l) => l.msg === 'token' && l.url === '/token/pass');
      assert.deepEqual([relayed?.host, relayed?.http], ['pass.mirror.test', protocol === 'h2' ? '2.0' : '1.1']);
      const m = await get(c, '/v2/private/thing/manifests/1', { headers: { host: 'pass.mirror.test', authorization: `Bearer ${token}` } });
      assert.equal(m.status, 200);
      assert.equal(accessLine(s.mirror.logs, '/v2/private/thing/manifests/1').upstream, 'pass');
    });

    test('Host: evil.example never puts evil.example in a realm: the first configured name stands in', async () => {
      const fallback = `${c.scheme}://gcr.mirror.test:${port}/token/pass`;
      const ping = await get(c, '/v2/?ns=pass.example.test', { headers: evil });
      assert.equal(ping.status, 401);
      assert.equal(ping.headers['www-authenticate'], `Bearer realm="${fallback}",service="fake-registry"`);
      const m = await get(c, '/v2/private/thing/manifests/1?ns=pass.example.test', { headers: evil });
      assert.equal(m.status, 401);
      assert.match(String(m.headers['www-authenticate']), /^Bearer realm="[^"]+"/);
      assert.ok(String(m.headers['www-authenticate']).startsWith(`Bearer realm="${fallback}"`));
      // Another client asking by its own name still gets its own name.
      const other = await get(c, '/v2/', { headers: { host: 'pass.mirror.test' } });
      assert.equal(other.headers['www-authenticate'], `Bearer realm="${c.scheme}://pass.mirror.test/token/pass",service="fake-registry"`);
    });

    test('the address the connection reached is a name the mirror is known by', async () => {
      const r = await get(c, '/v2/?ns=pass.example.test');
      assert.equal(r.headers['www-authenticate'], `Bearer realm="${c.origin}/token/pass",service="fake-registry"`);
      const other = await get(c, '/v2/?ns=pass.example.test', { headers: { host: `127.0.0.2:${port}` } });
      assert.ok(String(other.headers['www-authenticate']).startsWith(`Bearer realm="${c.scheme}://gcr.mirror.test:${port}/`));
    });

    test('an authority that is not host[:port] is refused with a 400 before any routing', async () => {
      for (const host of ['evil.example@gcr.mirror.test', 'gcr.mirror.test:99999', 'gcr.mirror.test:x', '[zz::1]', 'a..b', '-a.test', 'a.test/x']) {
        const r = await get(c, '/v2/alpine/manifests/1', { headers: { host } }).catch((err: Error & { code?: string }) => err);
        if (r instanceof Error) {
          // HTTP/2's own framing layer already refuses some of them: the stream is reset as malformed.
          assert.equal(protocol, 'h2', `${host}: ${r.message}`);
          assert.match(r.message, /NGHTTP2_PROTOCOL_ERROR/, host);
          continue;
        }
        assert.equal(r.status, 400, host);
        assert.equal(errorCode(r), 'REQUEST_INVALID', host);
      }
      assert.equal(s.up.requests.length, 0);
    });
  });

  describe(`realms with users of the mirror's own (${protocol})`, () => {
    let up: FakeUpstream;
    let m: TestMirror;
    let c: RegistryClient;
    before(async () => {
      up = await new FakeUpstream().start();
      up.addImage('library/alpine', '3.20', [Buffer.alloc(10, 1)]);
      m = await startMirror({
        ...(await httpsListener()),
        access: { login: 'required', users: [{ username: 'ci', passwordHash: await hashPassword('ci-password-1') }] },
        upstreams: [{ name: 'hub', registry: 'docker.io', url: up.url, default: true }],
      });
      c = await registryClient(protocol, m);
    });
    after(async () => {
      await c.close();
      await m.close();
      await up.stop();
    });

    test('the login challenge never names evil.example; without configured names, the reached address stands in', async () => {
      const port = new URL(c.origin).port;
      for (const path of ['/v2/', '/v2/alpine/manifests/3.20']) {
        const own = await get(c, path);
        assert.equal(own.headers['www-authenticate'], `Bearer realm="${c.origin}/auth/token",service="pullgate"`, path);
        const r = await get(c, path, { headers: evil });
        assert.equal(r.status, 401, path);
        // The certificate's first DNS name is the first configured name here.
        assert.equal(r.headers['www-authenticate'], `Bearer realm="${c.scheme}://mirror.test:${port}/auth/token",service="pullgate"`, path);
      }
    });
  });
}

describe('publicUrl names every realm', () => {
  let m: TestMirror;
  let up: FakeUpstream;
  before(async () => {
    up = await new FakeUpstream({ auth: true }).start();
    m = await startMirror({
      publicUrl: 'https://registry.example.com',
      upstreams: [
        { name: 'hub', registry: 'docker.io', url: up.url, default: true },
        { name: 'pass', registry: 'pass.example.test', url: up.url, hosts: ['pass.mirror.test'], auth: { mode: 'passthrough' } },
      ],
    });
  });
  after(async () => {
    await m.close();
    await up.stop();
  });

  test('whatever Host the request carries', async () => {
    for (const host of ['pass.mirror.test', 'evil.example']) {
      const r = await get(m.url, '/v2/?ns=pass.example.test', { headers: { host } });
      assert.equal(r.headers['www-authenticate'], 'Bearer realm="https://registry.example.com/token/pass",service="fake-registry"', host);
    }
  });
});

describe('HTTP/1.1 framing of the authority', () => {
  let m: TestMirror;
  before(async () => {
    m = await startMirror({ upstreams: [{ name: 'hub', registry: 'docker.io', url: 'http://127.0.0.1:9', default: true }] });
  });
  after(() => m.close());

  const raw = (head: string): Promise<string> =>
    new Promise((resolve, reject) => {
      const { hostname, port } = new URL(m.url);
      const socket = connect(Number(port), hostname, () => socket.write(head));
      let out = '';
      socket.on('data', (d: Buffer) => (out += d.toString('latin1')));
      socket.on('end', () => resolve(out));
      socket.on('error', reject);
      setTimeout(() => socket.end(), 500);
    });

  test('two Host headers, or none in HTTP/1.1, are a 400', async () => {
    assert.match(await raw('GET /v2/ HTTP/1.1\r\nHost: a.test\r\nHost: b.test\r\nConnection: close\r\n\r\n'), /^HTTP\/1\.1 400 .*more than one Host/s);
    assert.match(await raw('GET /v2/ HTTP/1.1\r\nConnection: close\r\n\r\n'), /^HTTP\/1\.1 400 .*needs a Host header/s);
    assert.match(await raw('GET /v2/ HTTP/1.0\r\n\r\n'), /^HTTP\/1\.1 200 /);
  });
});

describe('HTTP/2 framing of the authority', () => {
  let m: TestMirror;
  before(async () => {
    m = await startMirror({ ...(await httpsListener()), upstreams: [{ name: 'hub', registry: 'docker.io', url: 'http://127.0.0.1:9', default: true }] });
  });
  after(() => m.close());

  const status = async (headers: Record<string, string>): Promise<number> => {
    const session = h2connect(m.httpsUrl!, { ca: (await mirrorTls()).caPem });
    try {
      return await new Promise<number>((resolve, reject) => {
        const stream = session.request({ ':path': '/v2/', ...headers });
        stream.on('response', (h) => resolve(Number(h[':status'])));
        stream.on('error', reject);
        stream.resume();
      });
    } finally {
      session.close();
    }
  };

  test('a Host that names another entity than :authority is a 400; the same one is accepted', async () => {
    assert.equal(await status({ ':authority': 'mirror.test', host: 'evil.example' }), 400);
    assert.equal(await status({ ':authority': 'mirror.test', host: 'Mirror.Test' }), 200);
  });
});
