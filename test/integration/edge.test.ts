import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { after, before, beforeEach, describe, test } from 'node:test';
import { connect as tlsConnect } from 'node:tls';
import { errorCode, get, mirrorOverFake, type Setup } from '../support/fake/mirror-over-fake.js';
import { startMirror } from '../support/mirror-app.js';
import { mirrorTls, protocols, type RegistryClient } from '../support/registry-client.js';

async function rawRequest(url: string, text: string, ca?: string): Promise<string> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = ca
      ? tlsConnect({ host: hostname, port: Number(port), ca, ALPNProtocols: ['http/1.1'] }, () => socket.end(text))
      : connect(Number(port), hostname, () => socket.end(text));
    let out = '';
    socket.on('data', (d: Buffer) => (out += d.toString('latin1')));
    socket.on('end', () => resolve(out));
    socket.on('error', reject);
  });
}

/** A path exactly as written, dot segments included (URL parsers in HTTP/1.1 clients would resolve them). */
async function verbatim(c: RegistryClient, path: string): Promise<{ status: number; body: string }> {
  if (c.protocol === 'h2') {
    const r = await c.fetch(path);
    return { status: r.status, body: r.body.toString() };
  }
  const reply = await rawRequest(c.origin, `GET ${path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`, c.scheme === 'https' ? (await mirrorTls()).caPem : undefined);
  return { status: Number(/^HTTP\/1\.1 (\d{3}) /.exec(reply)?.[1]), body: reply.slice(reply.indexOf('\r\n\r\n') + 4) };
}

describe('the plain HTTP/1.1 edge', () => {
  let s: Setup;
  before(async () => {
    s = await mirrorOverFake();
  });
  after(() => s.close());

  test('absurd header sizes get 431 with an OCI error body', async () => {
    const reply = await rawRequest(s.mirror.url, `GET /v2/ HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(64 * 1024)}\r\n\r\n`);
    assert.match(reply, /^HTTP\/1\.1 431/);
    assert.match(reply, /"code":"REQUEST_INVALID"/);
  });
});

for (const protocol of protocols) describe(`the registry edge (${protocol})`, () => {
  let s: Setup;
  let c: RegistryClient;
  before(async () => {
    s = await mirrorOverFake({ auth: true, tagPageSize: 2 });
    c = await s.client(protocol);
    for (const tag of ['a', 'b', 'c', 'd', 'e']) s.up.addImage('library/alpine', tag, [Buffer.alloc(10, 1)]);
  });
  after(() => s.close());
  beforeEach(() => s.up.reset());

  test('GET /v2/ answers 200 locally with the API version header', async () => {
    const r = await get(c, '/v2/');
    assert.equal(r.status, 200);
    assert.equal(r.headers['docker-distribution-api-version'], 'registry/2.0');
    assert.equal(s.up.requests.length, 0);
  });

  for (const [method, path] of [
    ['POST', '/v2/library/alpine/blobs/uploads/'],
    ['PATCH', '/v2/library/alpine/blobs/uploads/abc'],
    ['PUT', '/v2/library/alpine/manifests/latest'],
    ['DELETE', '/v2/library/alpine/manifests/latest'],
    ['DELETE', `/v2/library/alpine/blobs/sha256:${'a'.repeat(64)}`],
  ] as const) {
    test(`${method} ${path} answers 405 UNSUPPORTED`, async () => {
      const r = await get(c, path, { method, headers: { 'content-type': 'application/octet-stream' } });
      assert.equal(r.status, 405);
      assert.equal(errorCode(r), 'UNSUPPORTED');
      assert.equal(s.up.requests.length, 0);
    });
  }

  test('/v2/_catalog is never proxied', async () => {
    const r = await get(c, '/v2/_catalog');
    assert.equal(r.status, 404);
    assert.equal(s.up.requests.length, 0);
  });

  for (const [name, path, code] of [
    ['a .. component', '/v2/library/../etc/manifests/latest', 'NAME_INVALID'],
    ['upper case', '/v2/Library/Alpine/manifests/latest', 'NAME_INVALID'],
    ['%2e%2e', '/v2/%2e%2e/%2e%2e/etc/manifests/latest', 'NAME_INVALID'],
    ['an over-long name', `/v2/${'a'.repeat(300)}/manifests/latest`, 'NAME_INVALID'],
    ['a malformed digest', '/v2/library/alpine/blobs/sha256:xyz', 'DIGEST_INVALID'],
    ['an unknown digest algorithm', `/v2/library/alpine/manifests/md5:${'a'.repeat(32)}`, 'DIGEST_INVALID'],
    ['a tag outside the grammar', `/v2/library/alpine/manifests/.hidden`, 'TAG_INVALID'],
    ['a tag that is too long', `/v2/library/alpine/manifests/${'t'.repeat(129)}`, 'TAG_INVALID'],
  ] as const) {
    test(`${name} gets ${code} and nothing goes upstream`, async () => {
      const reply = await verbatim(c, path);
      assert.equal(reply.status, 400);
      assert.ok(reply.body.includes(`"code":"${code}"`), reply.body);
      assert.equal(s.up.requests.length, 0);
    });
  }

  test('unknown paths outside /v2 get a JSON 404', async () => {
    const r = await get(c, '/etc/passwd');
    assert.equal(r.status, 404);
    assert.equal(errorCode(r), 'NOT_FOUND');
  });

  test('tags/list forwards n and last and rewrites Link to a mirror-relative URL keeping ns', async () => {
    const r = await get(c, '/v2/library/alpine/tags/list?n=2&last=a&ns=docker.io');
    assert.equal(r.status, 200);
    assert.deepEqual(JSON.parse(r.body.toString()).tags, ['b', 'c']);
    assert.equal(r.headers.link, '</v2/library/alpine/tags/list?n=2&last=c&ns=docker.io>; rel="next"');
    const q = s.up.requests.find((x) => x.path.endsWith('/tags/list') && x.headers.authorization)!;
    assert.equal(q.query.get('n'), '2');
    assert.equal(q.query.get('last'), 'a');
  });

  test('tags/list with n=0 is an empty list without Link and without asking upstream', async () => {
    const r = await get(c, '/v2/library/alpine/tags/list?n=0');
    assert.deepEqual(JSON.parse(r.body.toString()).tags, []);
    assert.equal(r.headers.link, undefined);
    assert.equal(s.up.requests.length, 0);
  });

  test('tags/list refuses a bad n or last', async () => {
    assert.equal(errorCode(await get(c, '/v2/library/alpine/tags/list?n=-1')), 'PAGINATION_NUMBER_INVALID');
    assert.equal(errorCode(await get(c, '/v2/library/alpine/tags/list?last=..%2F')), 'TAG_INVALID');
  });

  test('a referrers 404 upstream stays a 404 so clients fall back to the tag schema', async () => {
    const r = await get(c, `/v2/library/alpine/referrers/sha256:${'b'.repeat(64)}`);
    assert.equal(r.status, 404);
  });

  test('the access log has one line per request with upstream, repository, reference, status and timings', async () => {
    await get(c, '/v2/library/alpine/manifests/a');
    const line = JSON.parse(s.mirror.logs.filter((l) => l.includes('"reference":"a"')).at(-1)!) as Record<string, unknown>;
    assert.equal(line.upstream, 'hub');
    assert.equal(line.repository, 'library/alpine');
    assert.equal(line.status, 200);
    assert.equal(typeof line.bytes, 'number');
    assert.equal(typeof line.upstreamMs, 'number');
    assert.equal(typeof line.ms, 'number');
  });
});

describe('the edge with the upstream down', () => {
  test('GET /v2/ still answers at once and pulls fail with UNAVAILABLE', async () => {
    const mirror = await startMirror({ upstreams: [{ name: 'hub', registry: 'docker.io', url: 'http://127.0.0.1:9', default: true }] });
    try {
      const started = Date.now();
      assert.equal((await get(mirror.url, '/v2/')).status, 200);
      assert.ok(Date.now() - started < 1000);
      const r = await get(mirror.url, '/v2/library/alpine/manifests/latest');
      assert.equal(r.status, 503);
      assert.equal(errorCode(r), 'UNAVAILABLE');
    } finally {
      await mirror.close();
    }
  });

  test('the listener keeps idle connections for longer than 90 seconds', async () => {
    const mirror = await startMirror({ upstreams: [{ name: 'hub', registry: 'docker.io', url: 'http://127.0.0.1:9', default: true }] });
    try {
      assert.ok((mirror.app.http!.server.keepAliveTimeout ?? 0) > 90_000);
      assert.ok((mirror.app.http!.server.headersTimeout ?? 0) > mirror.app.http!.server.keepAliveTimeout);
    } finally {
      await mirror.close();
    }
  });
});
