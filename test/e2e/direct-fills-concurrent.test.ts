// Many cold pulls at once through a mirror whose fills read the upstream straight from the socket (one reused read
// buffer for every connection, pooled batch buffers shared by every fill; docs/architecture.md, "Decision: blobs
// stream, verify, then commit"), against Debian's docker-registry with token auth and its CDN redirect: HTTP/1.1
// and HTTP/2 clients, and a slow client next to a fast one on the same fill. Every client checks every byte.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { connect as h2connect } from 'node:http2';
import { after, before, describe, test } from 'node:test';
import { request } from 'undici';
import { writeLargeBlob, type LargeBlob } from '../support/large-blob.js';
import { startMirror, type TestMirror } from '../support/mirror-app.js';
import { startRealRegistry, type RealRegistry } from '../support/real-registry.js';

const MiB = 1024 * 1024;

interface Pulled {
  status: number;
  digest: string;
  bytes: number;
}

async function pullH1(mirror: TestMirror, repository: string, digest: string, slow = false): Promise<Pulled> {
  const res = await request(`${mirror.url}/v2/${repository}/blobs/${digest}`, { bodyTimeout: 60_000 });
  const hash = createHash('sha256');
  let bytes = 0;
  for await (const chunk of res.body) {
    hash.update(chunk as Buffer);
    bytes += (chunk as Buffer).length;
    // A client far slower than the upstream: the fill runs ahead of it, its batches leave memory meanwhile.
    if (slow) await new Promise((r) => setTimeout(r, 15));
  }
  return { status: res.statusCode, digest: `sha256:${hash.digest('hex')}`, bytes };
}

function pullH2(mirror: TestMirror, ca: string, repository: string, digest: string): Promise<Pulled> {
  const session = h2connect(mirror.httpsUrl ?? '', { ca, servername: 'mirror.pullgate.test' });
  return new Promise<Pulled>((resolve, reject) => {
    const req = session.request({ ':path': `/v2/${repository}/blobs/${digest}` });
    const hash = createHash('sha256');
    let bytes = 0;
    let status = 0;
    req.on('response', (h) => (status = Number(h[':status'])));
    req.on('data', (chunk: Buffer) => {
      hash.update(chunk);
      bytes += chunk.length;
    });
    req.on('end', () => resolve({ status, digest: `sha256:${hash.digest('hex')}`, bytes }));
    req.on('error', reject);
    req.end();
  }).finally(() => session.close());
}

describe('concurrent cold pulls through direct reads', () => {
  let reg: RealRegistry;
  let mirror: TestMirror;
  const blobs: Array<LargeBlob & { repository: string }> = [];

  before(async () => {
    reg = await startRealRegistry();
    for (let i = 0; i < 10; i++) {
      const repository = `direct/b${i}`;
      blobs.push({ ...(await writeLargeBlob(reg, repository, 2 * MiB + i * 397_007)), repository });
    }
    const cert = await reg.ca.issue('mirror', ['mirror.pullgate.test'], ['127.0.0.1']);
    mirror = await startMirror({
      listen: { http: '127.0.0.1:0', https: '127.0.0.1:0' },
      tls: { certificates: [{ cert: cert.certPath, key: cert.keyPath }] },
      upstreams: [{ name: 'origin', registry: 'origin.direct.test', url: reg.url, ca: reg.caFile, default: true }],
    });
  });
  after(async () => {
    await mirror?.close();
    await reg?.stop();
  });

  test('ten different cold blobs at once, over HTTP/1.1 and HTTP/2, each with two clients: every byte of every blob is right', async () => {
    reg.cdn.reset();
    const pulls = blobs.flatMap((b, i) => [
      pullH1(mirror, b.repository, b.digest),
      i % 2 === 0 ? pullH2(mirror, reg.ca.caCertPem, b.repository, b.digest) : pullH1(mirror, b.repository, b.digest),
    ]);
    const got = await Promise.all(pulls);
    got.forEach((g, n) => {
      const b = blobs[Math.floor(n / 2)];
      assert.deepEqual(g, { status: 200, digest: b?.digest, bytes: b?.size }, `pull ${n}`);
    });
    // Read straight from the socket: a direct read sends no Connection header (undici sends `connection: keep-alive`).
    const gets = reg.cdn.requests.filter((r) => r.method === 'GET');
    assert.equal(gets.length, blobs.length, 'one upstream GET per blob');
    for (const r of gets) assert.equal(r.headers.connection, undefined, r.path);
    // The blobs were stored as verified: a second pull of each (a hit) is right too.
    for (const b of blobs) assert.deepEqual(await pullH1(mirror, b.repository, b.digest), { status: 200, digest: b.digest, bytes: b.size });
  });

  test('a slow and a fast client on one fill while other fills take and give back batch buffers: both byte-exact', async () => {
    const big = { ...(await writeLargeBlob(reg, 'direct/big', 24 * MiB + 11)), repository: 'direct/big' };
    const others: typeof blobs = [];
    for (let i = 0; i < 3; i++) others.push({ ...(await writeLargeBlob(reg, `direct/o${i}`, 6 * MiB + i)), repository: `direct/o${i}` });
    const slow = pullH1(mirror, big.repository, big.digest, true);
    const fast = pullH1(mirror, big.repository, big.digest);
    const rest = others.map((o) => pullH1(mirror, o.repository, o.digest));
    const [s, f, ...r] = await Promise.all([slow, fast, ...rest]);
    assert.deepEqual(f, { status: 200, digest: big.digest, bytes: big.size });
    assert.deepEqual(s, { status: 200, digest: big.digest, bytes: big.size });
    r.forEach((g, i) => assert.deepEqual(g, { status: 200, digest: others[i]?.digest, bytes: others[i]?.size }));
  });
});
