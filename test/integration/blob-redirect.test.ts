// `cache.storage.redirect: true` on a real S3 server (Ceph radosgw) behind a mirror of a fake upstream: which blob
// requests are answered with 307 to a presigned URL and which are not. A blob GET that hits the bucket is
// redirected, Range included, only after the checks a streamed hit passes (policy, the repository's link, a
// passthrough client's credential); HEAD, misses, manifests and unsatisfiable ranges never are. Following the
// Location without the mirror's Authorization gets the exact bytes from radosgw, whose own log shows who fetched.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { CreateBucketCommand } from '@aws-sdk/client-s3';
import { request } from 'undici';
import { createS3Client } from '../../src/cache/s3-client.js';
import { parseDigest } from '../../src/registry/digest.js';
import { FakeUpstream } from '../support/fake/fake-upstream.js';
import { errorCode, get, type Fetched } from '../support/fake/mirror-over-fake.js';
import { assertInstalled } from '../support/installed-tools.js';
import { startMirror, type TestMirror } from '../support/mirror-app.js';
import { parseAccessLines } from '../support/pull-through-setup.js';
import { httpsListener, protocols, registryClient, type RegistryClient } from '../support/registry-client.js';
import { parseExposition, total, type Sample } from '../support/prometheus-text.js';
import { radosgwPrograms, rgwStorage, startRadosgw, type Radosgw } from '../support/radosgw.js';
import { startTcpRelay, type TcpRelay } from '../support/tcp-relay.js';
import { until } from '../support/until.js';

const bucket = 'pullgate-redirect';
const prefix = 'cache/';
const ttlSeconds = 600;
const slow = { timeout: 60_000 };

test('radosgw and the Ceph daemons are installed for the redirect tests', () => assertInstalled(...radosgwPrograms));

describe('blob redirects to presigned URLs (cache.storage.redirect) on radosgw', () => {
  let rgw: Radosgw;
  let up: FakeUpstream;
  let mirror: TestMirror;
  /** The same bucket, with redirect URLs for another address of the store (redirectEndpoint): a TCP relay to it. */
  let aliased: TestMirror;
  let relay: TcpRelay;

  const keyOf = (digest: string): string => `${prefix}blobs/sha256/${digest.slice(7, 9)}/${digest.slice(7)}`;
  const storage = (extra: Record<string, unknown> = {}) => ({
    ...rgwStorage(rgw, bucket, prefix),
    redirect: true,
    redirectTtl: `${ttlSeconds}s`,
    ...extra,
  });
  const upstreams = () => [
    { name: 'hub', registry: 'docker.io', url: up.url, default: true, policy: { deny: ['library/forbidden'] } },
    { name: 'pass', registry: 'pass.example.test', url: up.url, hosts: ['pass.mirror.test'], auth: { mode: 'passthrough' } },
  ];
  /** A blob the upstream holds in `repositories` only (all of them when omitted), pulled once: now in the bucket. */
  const cachedBlob = async (repository = 'library/alpine', headers: Record<string, string> = {}, holders?: string[]) => {
    const bytes = randomBytes(300 * 1024 + 11);
    const digest = up.addBlob(bytes);
    if (holders) up.blobRepositories.set(digest, new Set(holders));
    const first = await get(mirror.url, `/v2/${repository}/blobs/${digest}`, { headers });
    assert.equal(first.status, 200, 'the first GET is a miss, streamed');
    assert.ok(first.body.equals(bytes));
    await committed(mirror, digest);
    return { bytes, digest };
  };
  /**
   * Clients get the verified bytes before the upload to the bucket ends: waits for the commit, and for the fill to
   * leave the in-flight list (it does just after the object is in the bucket; until then a request follows the fill).
   */
  const committed = (m: TestMirror, digest: string) =>
    until(
      async () => ((await m.app.cache.store.stat(parseDigest(digest))) !== undefined && !m.app.services.fills.get(parseDigest(digest)) ? true : undefined),
      20_000,
      20,
    );
  const follow = async (location: string, headers: Record<string, string> = {}): Promise<Fetched> => {
    const res = await request(location, { headers });
    return { status: res.statusCode, headers: res.headers, body: Buffer.from(await res.body.arrayBuffer()) };
  };
  const lineFor = (m: TestMirror, from: number, digest: string, method = 'GET') =>
    parseAccessLines(m.logs.slice(from)).filter((l) => l.method === method && l.url.endsWith(`/blobs/${digest}`));

  before(async () => {
    await assertInstalled(...radosgwPrograms);
    rgw = await startRadosgw();
    const s3 = createS3Client({ endpoint: rgw.endpoint, region: rgw.region, accessKeyId: rgw.accessKeyId, secretAccessKey: rgw.secretAccessKey, forcePathStyle: true }, { connectMs: 2_000, idleMs: 10_000 });
    await s3.send(new CreateBucketCommand({ Bucket: bucket }));
    s3.destroy();
    up = await new FakeUpstream({ auth: true, users: { alice: 'alice-pw', bob: 'bob-pw' }, grants: { alice: ['private/app'], bob: [] } }).start();
    mirror = await startMirror({ ...(await httpsListener()), upstreams: upstreams(), cache: { storage: storage() } });
    relay = await startTcpRelay(Number(new URL(rgw.endpoint).port));
    aliased = await startMirror({ upstreams: upstreams(), cache: { storage: storage({ redirectEndpoint: relay.url }) } });
  }, { timeout: 120_000 });

  after(async () => {
    await aliased?.close();
    await relay?.close();
    await mirror?.close();
    await up?.stop();
    await rgw?.stop();
  });

  test('redirectEndpoint: URLs name and are signed for the address clients use, and the store accepts them there only', slow, async () => {
    const bytes = randomBytes(64 * 1024 + 5);
    const digest = up.addBlob(bytes);
    const path = `/v2/library/alpine/blobs/${digest}`;
    assert.equal((await get(aliased.url, path)).status, 200);
    await committed(aliased, digest);
    const r = await get(aliased.url, path);
    assert.equal(r.status, 307);
    const location = new URL(String(r.headers.location));
    assert.equal(location.origin, relay.url);
    const before = relay.connections();
    const fetched = await follow(location.href);
    assert.equal(fetched.status, 200);
    assert.ok(fetched.body.equals(bytes));
    assert.equal(relay.connections(), before + 1, 'the client went through the other address');
    const elsewhere = await follow(location.href.replace(relay.url, rgw.endpoint));
    assert.equal(elsewhere.status, 403, 'the signature covers the host: the same URL on another address is refused');
  });

  for (const protocol of protocols) {
    describe(`the registry side over ${protocol}`, () => {
      let c: RegistryClient;
      before(async () => {
        c = await registryClient(protocol, mirror);
      });
      after(() => c.close());

      test('a GET that hits the bucket answers 307 to a presigned radosgw URL that serves the exact bytes without the mirror', slow, async () => {
        const { bytes, digest } = await cachedBlob();
        const from = mirror.logs.length;
        const r = await get(c, `/v2/library/alpine/blobs/${digest}`);
        assert.equal(r.status, 307);
        assert.equal(r.body.length, 0);
        assert.equal(r.headers['cache-control'], 'no-store');
        const location = new URL(String(r.headers.location));
        assert.equal(location.origin, rgw.endpoint);
        assert.equal(location.pathname, `/${bucket}/${keyOf(digest)}`);
        assert.equal(location.searchParams.get('X-Amz-Expires'), String(ttlSeconds));
        assert.match(location.searchParams.get('X-Amz-Signature') ?? '', /^[0-9a-f]{64}$/);
        assert.match(location.searchParams.get('X-Amz-Credential') ?? '', new RegExp(`^${rgw.accessKeyId}/`));
        assert.ok(!location.href.includes(rgw.secretAccessKey) && !location.href.includes(encodeURIComponent(rgw.secretAccessKey)), 'no secret key in the URL');

        const rgwFrom = (await rgw.requests()).length;
        const fetched = await follow(location.href);
        assert.equal(fetched.status, 200);
        assert.ok(fetched.body.equals(bytes), 'the object store sent the exact bytes');
        const seen = (await rgw.requests()).slice(rgwFrom).filter((q) => q.path === `/${bucket}/${keyOf(digest)}`);
        assert.deepEqual(seen.map((q) => [q.method, q.status, /X-Amz-Signature=/.test(q.query)]), [['GET', 200, true]], 'one presigned GET reached radosgw');

        const [line, ...more] = lineFor(mirror, from, digest);
        assert.equal(more.length, 0);
        assert.equal(line?.status, 307);
        assert.equal(line?.cache, 'REDIRECT');
        assert.equal(line?.bytes, 0, 'the mirror sent no blob bytes');
        assert.equal(line?.redirectedBytes, bytes.length);
      });

      test('a Range GET is redirected too and the object store answers 206 with exactly that span', slow, async () => {
        const { bytes, digest } = await cachedBlob();
        const r = await get(c, `/v2/library/alpine/blobs/${digest}`, { headers: { range: 'bytes=1000-' } });
        assert.equal(r.status, 307);
        const fetched = await follow(String(r.headers.location), { range: 'bytes=1000-' });
        assert.equal(fetched.status, 206);
        assert.equal(fetched.headers['content-range'], `bytes 1000-${bytes.length - 1}/${bytes.length}`);
        assert.ok(fetched.body.equals(bytes.subarray(1000)));
        const from = mirror.logs.length;
        const inner = await get(c, `/v2/library/alpine/blobs/${digest}`, { headers: { range: 'bytes=10-19' } });
        assert.equal(inner.status, 307);
        assert.equal(lineFor(mirror, from, digest)[0]?.redirectedBytes, 10, 'the span, not the blob, counts as redirected');
      });

      test('an unsatisfiable Range gets the mirror\'s own 416, not a redirect', async () => {
        const { bytes, digest } = await cachedBlob();
        const r = await get(c, `/v2/library/alpine/blobs/${digest}`, { headers: { range: `bytes=${bytes.length}-` } });
        assert.equal(r.status, 416);
        assert.equal(r.headers['content-range'], `bytes */${bytes.length}`);
        assert.equal(r.headers.location, undefined);
      });

      test('a HEAD of a blob in the bucket is answered by the mirror with its size, never redirected', async () => {
        const { bytes, digest } = await cachedBlob();
        const from = mirror.logs.length;
        const r = await get(c, `/v2/library/alpine/blobs/${digest}`, { method: 'HEAD' });
        assert.equal(r.status, 200);
        assert.equal(r.headers.location, undefined);
        assert.equal(r.headers['content-length'], String(bytes.length));
        assert.equal(lineFor(mirror, from, digest, 'HEAD')[0]?.cache, 'HIT');
      });

      test('a miss and the requests that follow its fill stream from the mirror; only after the commit does a GET redirect', slow, async () => {
        const bytes = randomBytes(2 * 1024 * 1024);
        const digest = up.addBlob(bytes);
        up.faults = { blobChunkDelayMs: 20 };
        try {
          const path = `/v2/library/alpine/blobs/${digest}`;
          const from = mirror.logs.length;
          const firstGet = get(c, path);
          // The second request arrives while the first one's fill is running (the slowed upstream keeps it going).
          while (!mirror.app.services.fills.get(parseDigest(digest))) await new Promise((r) => setTimeout(r, 10));
          const [first, second] = await Promise.all([firstGet, get(c, path)]);
          for (const r of [first, second]) {
            assert.equal(r.status, 200);
            assert.equal(r.headers.location, undefined);
            assert.ok(r.body.equals(bytes));
          }
          // An access line is written when its response has finished, which may be just after the client read it.
          const lines = await until(async () => (lineFor(mirror, from, digest).length >= 2 ? lineFor(mirror, from, digest) : undefined), 5_000, 10);
          assert.deepEqual(lines.map((l) => l.cache).sort(), ['COALESCED', 'MISS']);
        } finally {
          up.faults = {};
        }
        await committed(mirror, digest);
        assert.equal((await get(c, `/v2/library/alpine/blobs/${digest}`)).status, 307);
      });

      test('manifests are never redirected, even when their blobs are', async () => {
        const m = up.addImage('library/redirected', 'v1', [randomBytes(4096)]);
        const r = await get(c, '/v2/library/redirected/manifests/v1', { headers: { accept: m.mediaType } });
        assert.equal(r.status, 200);
        const again = await get(c, `/v2/library/redirected/manifests/${m.digest}`, { headers: { accept: m.mediaType } });
        assert.equal(again.status, 200);
        assert.equal(again.headers.location, undefined);
        assert.ok(again.body.equals(m.bytes));
      });

      test('a repository denied by policy gets 403 DENIED, never a Location, for a blob in the bucket', async () => {
        const { digest } = await cachedBlob();
        const r = await get(c, `/v2/library/forbidden/blobs/${digest}`);
        assert.equal(r.status, 403);
        assert.equal(errorCode(r), 'DENIED');
        assert.equal(r.headers.location, undefined);
      });

      test('a blob in the bucket asked for under a repository the upstream says lacks it gets 404, never a Location', async () => {
        const { digest } = await cachedBlob('library/alpine', {}, ['library/alpine']);
        const r = await get(c, `/v2/library/other/blobs/${digest}`);
        assert.equal(r.status, 404);
        assert.equal(errorCode(r), 'BLOB_UNKNOWN');
        assert.equal(r.headers.location, undefined);
      });

      test('passthrough: only a client whose credential the upstream accepts for the repository is redirected', slow, async () => {
        const tokenFor = async (user: string, password: string): Promise<string> => {
          const res = await request(`${up.url}/token?service=fake-registry&scope=repository:private/app:pull`, {
            headers: { authorization: `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}` },
          });
          return ((await res.body.json()) as { token: string }).token;
        };
        const alice = { host: 'pass.mirror.test', authorization: `Bearer ${await tokenFor('alice', 'alice-pw')}` };
        const bob = { host: 'pass.mirror.test', authorization: `Bearer ${await tokenFor('bob', 'bob-pw')}` };
        const { digest } = await cachedBlob('private/app', alice);
        const path = `/v2/private/app/blobs/${digest}`;

        const anonymous = await get(c, path, { headers: { host: 'pass.mirror.test' } });
        assert.equal(anonymous.status, 401);
        assert.equal(anonymous.headers.location, undefined);
        const refused = await get(c, path, { headers: bob });
        assert.equal(refused.status, 401);
        assert.equal(refused.headers.location, undefined);
        const allowed = await get(c, path, { headers: alice });
        assert.equal(allowed.status, 307);
        assert.ok(!String(allowed.headers.location).includes(alice.authorization.slice(7)), 'the client\'s token is not in the URL');
      });

      test('metrics count a redirect as a request with cache REDIRECT and its bytes as redirected, not served', async () => {
        const { bytes, digest } = await cachedBlob();
        const before = await scrape(mirror);
        assert.equal((await get(c, `/v2/library/alpine/blobs/${digest}`)).status, 307);
        const after = await scrape(mirror);
        const delta = (name: string, labels: Record<string, string>) => total(after, name, labels) - total(before, name, labels);
        assert.equal(delta('pullgate_redirected_bytes_total', { upstream: 'hub' }), bytes.length);
        assert.equal(delta('pullgate_served_bytes_total', { upstream: 'hub', kind: 'blob' }), 0);
        assert.equal(delta('pullgate_requests_total', { upstream: 'hub', kind: 'blob', method: 'GET', status: '307', cache: 'REDIRECT' }), 1);
      });
    });
  }
});

async function scrape(m: TestMirror): Promise<Sample[]> {
  return parseExposition((await m.app.metrics.exposition()).body);
}
