// A request that follows another request's fill never receives that request's refusal (docs/security.md, "Cache
// access across repositories, upstreams and replicas"): when the upstream refuses the fill's own request (its
// credential, its repository, its realm), a follower asking with another context retries with its own. A hostile
// client's failing fill must neither fail nor re-challenge a legitimate pull of the same digest that arrives while
// it is in flight. Followers with the very same context still share the one upstream answer. The fake upstream
// injects the timing; the last suite runs the same races against a real registry with token auth.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { connect, createServer, type AddressInfo, type Socket } from 'node:net';
import { after, before, beforeEach, describe, test } from 'node:test';
import { parseDigest } from '../../src/registry/digest.js';
import { RegistryError } from '../../src/registry/errors.js';
import { FakeUpstream, sha256 } from '../support/fake/fake-upstream.js';
import { errorCode, get, type Fetched } from '../support/fake/mirror-over-fake.js';
import { pushFixtures, type Fixtures } from '../support/fixture-images.js';
import { assertInstalled } from '../support/installed-tools.js';
import { startMirror, type TestMirror } from '../support/mirror-app.js';
import { startRealRegistry, type RealRegistry } from '../support/real-registry.js';

const passHost = 'pass.mirror.test';
const passwords: Record<string, string> = { alice: 'pw' };

/** Waits until the mirror has a fill in flight for `digest` (the first request's upstream request is out). */
async function fillInFlight(mirror: TestMirror, digest: string): Promise<void> {
  const deadline = Date.now() + 5000;
  while (!mirror.app.services.fills.get(parseDigest(digest))) {
    if (Date.now() > deadline) assert.fail('no fill started');
    await new Promise((r) => setTimeout(r, 2));
  }
}

describe('passthrough mode: a hostile client\'s refused fill and a legitimate concurrent pull of the same digest', () => {
  let up: FakeUpstream;
  let mirror: TestMirror;
  let alice: string;

  before(async () => {
    up = await new FakeUpstream({ auth: true, users: passwords, tokenExpiresIn: 300 }).start();
    mirror = await startMirror({
      upstreams: [{ name: 'pass', registry: 'pass.example.test', url: up.url, default: true, hosts: [passHost], auth: { mode: 'passthrough' } }],
    });
    const basic = `Basic ${Buffer.from('alice:pw').toString('base64')}`;
    const r = await get(mirror.url, `/token/pass?service=fake-registry&scope=${encodeURIComponent('repository:private/a:pull')}`, {
      headers: { host: passHost, authorization: basic },
    });
    assert.equal(r.status, 200);
    alice = (JSON.parse(r.body.toString('utf8')) as { token: string }).token;
  });
  after(async () => {
    await mirror.close();
    await up.stop();
  });
  beforeEach(() => up.reset());

  for (const hostile of [
    { name: 'a forged bearer token', authorization: 'Bearer forged.token' },
    { name: 'no credential', authorization: undefined },
  ]) {
    test(`a fill started with ${hostile.name} fails for its client only; alice, arriving while it is in flight, gets the blob`, async () => {
      const layer = randomBytes(256 * 1024);
      const digest = up.addBlob(layer);
      const path = `/v2/private/a/blobs/${digest}`;
      // Every upstream answer takes a while: alice's request arrives while the hostile fill waits for its answer.
      up.faults.headerDelayMs = 300;
      const hostileHeaders: Record<string, string> = { host: passHost };
      if (hostile.authorization) hostileHeaders.authorization = hostile.authorization;
      const refused = get(mirror.url, path, { headers: hostileHeaders });
      await fillInFlight(mirror, digest);
      const legit = get(mirror.url, path, { headers: { host: passHost, authorization: `Bearer ${alice}` } });
      const [bad, good] = await Promise.all([refused, legit]);

      assert.equal(bad.status, 401);
      assert.equal(errorCode(bad), 'UNAUTHORIZED');
      assert.equal(good.status, 200, `alice got ${good.status} ${good.body.toString('utf8').slice(0, 200)}`);
      assert.equal(good.headers['www-authenticate'], undefined, 'alice is not challenged again');
      assert.ok(good.body.equals(layer));
      // Alice's bytes came with her own token: a GET of hers reached the upstream.
      assert.ok(up.count((q) => q.method === 'GET' && q.path === path && q.headers.authorization === `Bearer ${alice}`) >= 1);
    });
  }

  test('a hostile client that keeps sending refused requests does not keep alice from her blob, nor cost her more than one GET', async () => {
    const layer = randomBytes(64 * 1024);
    const digest = up.addBlob(layer);
    const path = `/v2/private/a/blobs/${digest}`;
    up.faults.headerDelayMs = 150;
    let hostile = true;
    const hostileRequests: Array<Promise<unknown>> = [];
    const flood = (async () => {
      const deadline = Date.now() + 20_000;
      while (hostile && Date.now() < deadline) {
        hostileRequests.push(get(mirror.url, path, { headers: { host: passHost, authorization: 'Bearer forged.token' } }));
        await new Promise((r) => setTimeout(r, 20));
      }
    })();
    await fillInFlight(mirror, digest);
    const good = await get(mirror.url, path, { headers: { host: passHost, authorization: `Bearer ${alice}` } });
    hostile = false;
    await flood;
    await Promise.all(hostileRequests);
    assert.equal(good.status, 200, `alice got ${good.status} ${good.body.toString('utf8').slice(0, 200)}`);
    assert.ok(good.body.equals(layer));
    // Alice confirmed her access with a HEAD at most twice, then fetched once with her own token.
    const hers = (method: string) => up.count((q) => q.method === method && q.path === path && q.headers.authorization === `Bearer ${alice}`);
    assert.ok(hers('HEAD') <= 2, `alice's HEADs: ${hers('HEAD')}`);
    assert.equal(hers('GET'), 1);
  });

  test('two requests with the same refused credential share the one upstream answer', async () => {
    const digest = up.addBlob(randomBytes(1024));
    const path = `/v2/private/a/blobs/${digest}`;
    up.faults.headerDelayMs = 200;
    const headers = { host: passHost, authorization: 'Bearer forged.token' };
    const first = get(mirror.url, path, { headers });
    await fillInFlight(mirror, digest);
    const second = get(mirror.url, path, { headers });
    for (const r of await Promise.all([first, second])) assert.equal(r.status, 401);
    assert.equal(up.count((q) => q.method === 'GET' && q.path === path), 1);
  });
});

describe('mirror mode: a fill refused for its repository and a concurrent pull of the same digest under another', () => {
  let up: FakeUpstream;
  let mirror: TestMirror;

  before(async () => {
    up = await new FakeUpstream({ auth: true }).start();
    mirror = await startMirror({ upstreams: [{ name: 'hub', registry: 'docker.io', url: up.url, default: true }] });
  });
  after(async () => {
    await mirror.close();
    await up.stop();
  });
  beforeEach(() => up.reset());

  const blobGets = (repository: string, digest: string) =>
    up.count((q) => q.method === 'GET' && q.path === `/v2/${repository}/blobs/${digest}` && q.headers.authorization !== undefined);

  async function race(deniedRepository: string, setup: (digest: string) => void): Promise<{ bad: Fetched; good: Fetched; layer: Buffer; digest: string }> {
    const layer = randomBytes(256 * 1024);
    const digest = up.addBlob(layer);
    setup(digest);
    up.faults.headerDelayMs = 300;
    const refused = get(mirror.url, `/v2/${deniedRepository}/blobs/${digest}`);
    await fillInFlight(mirror, digest);
    const legit = get(mirror.url, `/v2/library/alpine/blobs/${digest}`);
    const [bad, good] = await Promise.all([refused, legit]);
    return { bad, good, layer, digest };
  }

  test('the upstream denies the first request\'s repository: the follower under a repository it may read gets the blob', async () => {
    // The fake grants anonymous tokens nothing under private/.
    const { bad, good, layer, digest } = await race('private/secret', () => undefined);
    assert.equal(bad.status, 403);
    assert.equal(errorCode(bad), 'DENIED');
    assert.equal(good.status, 200, `follower got ${good.status} ${good.body.toString('utf8').slice(0, 200)}`);
    assert.ok(good.body.equals(layer));
    assert.ok(blobGets('library/alpine', digest) >= 1);
  });

  test('the upstream does not hold the digest under the first request\'s repository: the follower gets it under its own', async () => {
    const { bad, good, layer, digest } = await race('team/elsewhere', (d) => up.blobRepositories.set(d, new Set(['library/alpine'])));
    assert.equal(bad.status, 404);
    assert.equal(errorCode(bad), 'BLOB_UNKNOWN');
    assert.equal(good.status, 200, `follower got ${good.status} ${good.body.toString('utf8').slice(0, 200)}`);
    assert.ok(good.body.equals(layer));
    assert.equal(sha256(good.body), digest);
  });

  test('a request that keeps finding refused fills of other contexts fetches on its own after two, uncached', async () => {
    const layer = randomBytes(16 * 1024);
    const digest = parseDigest(up.addBlob(layer));
    const fills = mirror.app.services.fills;
    // Refused fills of another context, each started the moment the previous one is refused (before the follower
    // can look again), as a client could try to arrange; at most 40 of them.
    let started = 0;
    let stopped = false;
    const refusedFill = (): void => {
      if (stopped || started >= 40) return;
      started++;
      const entry = fills.start(
        digest,
        async () => {
          await new Promise((r) => setTimeout(r, 30));
          throw new RegistryError('DENIED', 'refused for the hostile repository');
        },
        { upstream: 'hub', repository: 'team/hostile' },
        'hub team/hostile',
      );
      entry.fill.catch(refusedFill);
    };
    refusedFill();
    const r = await get(mirror.url, `/v2/library/alpine/blobs/${digest}`);
    const followed = started;
    assert.equal(r.status, 200, `got ${r.status} ${r.body.toString('utf8').slice(0, 200)}`);
    assert.ok(r.body.equals(layer));
    assert.ok(followed < 40, `the request waited for ${followed} refused fills`);
    stopped = true;
    await fills.get(digest)?.fill.catch(() => undefined);
    assert.equal(mirror.app.cache.index.blob(digest), undefined, 'the passed-through blob was cached');
  });

  test('requests for a digest the repository lacks, all under that repository, share one upstream answer', async () => {
    const digest = up.addBlob(randomBytes(1024));
    up.blobRepositories.set(digest, new Set(['library/alpine']));
    up.faults.headerDelayMs = 200;
    const path = `/v2/team/elsewhere/blobs/${digest}`;
    const first = get(mirror.url, path);
    await fillInFlight(mirror, digest);
    const rest = await Promise.all(Array.from({ length: 7 }, () => get(mirror.url, path)));
    for (const r of [await first, ...rest]) assert.equal(r.status, 404);
    assert.equal(up.count((q) => q.method === 'GET' && q.path === path), 1);
    assert.equal(up.count((q) => q.method === 'HEAD' && q.path === path), 0);
  });
});

/**
 * A TCP relay in front of the real registry that holds every client-to-registry chunk for `delayMs`: each upstream
 * request takes at least that long to be answered, so a second client reliably arrives while the first one's fill
 * waits for its answer. TLS passes through untouched.
 */
async function startDelayingRelay(targetPort: number, delayMs: number): Promise<{ port: number; close(): Promise<void> }> {
  const sockets = new Set<Socket>();
  const server = createServer((client) => {
    const target = connect(targetPort, '127.0.0.1');
    for (const s of [client, target]) {
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
      s.on('error', () => {
        client.destroy();
        target.destroy();
      });
    }
    client.on('data', (chunk) => void setTimeout(() => target.write(chunk), delayMs));
    client.on('end', () => void setTimeout(() => target.end(), delayMs));
    target.pipe(client);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    port: (server.address() as AddressInfo).port,
    async close() {
      for (const s of sockets) s.destroy();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}

describe('against a real registry (docker-registry, token auth): a refused fill and a legitimate concurrent pull', () => {
  let reg: RealRegistry;
  let fixtures: Fixtures;
  let relay: { port: number; close(): Promise<void> };
  let mirror: TestMirror;

  before(async () => {
    await assertInstalled('docker-registry', 'skopeo');
    reg = await startRealRegistry({ redirectBlobs: false });
    fixtures = await pushFixtures(reg);
    relay = await startDelayingRelay(Number(new URL(reg.url).port), 300);
    const url = `https://127.0.0.1:${relay.port}`;
    mirror = await startMirror({
      upstreams: [
        { name: 'hub', registry: 'docker.io', url, ca: reg.caFile, default: true },
        { name: 'pass', registry: 'pass.upstream.test', url, ca: reg.caFile, hosts: [passHost], auth: { mode: 'passthrough' } },
      ],
    });
  }, { timeout: 180_000 });
  after(async () => {
    await mirror?.close();
    await relay?.close();
    await reg?.stop();
  });

  test('passthrough: a forged token\'s fill fails for its client only; a reader\'s token gets the private layer', async () => {
    const layer = fixtures.secret.layers[0]!;
    const path = `/v2/private/secret/blobs/${layer.digest}`;
    const reader = reg.tokenServer.mint([{ type: 'repository', name: 'private/secret', actions: ['pull'] }], 'reader');
    const refused = get(mirror.url, path, { headers: { host: passHost, authorization: 'Bearer forged.token.value' } });
    await fillInFlight(mirror, layer.digest);
    const legit = get(mirror.url, path, { headers: { host: passHost, authorization: `Bearer ${reader}` } });
    const [bad, good] = await Promise.all([refused, legit]);
    assert.equal(bad.status, 401);
    assert.equal(errorCode(bad), 'UNAUTHORIZED');
    assert.equal(good.status, 200, `the reader got ${good.status} ${good.body.toString('utf8').slice(0, 200)}`);
    assert.equal(good.headers['www-authenticate'], undefined);
    assert.equal(sha256(good.body), layer.digest);
  });

  test('mirror mode: a fill under a repository the registry denies fails for its client only; the same layer under its own repository is served', async () => {
    const layer = fixtures.app.layers[0]!;
    // The anonymous mirror may not read private/secret: the registry refuses the first request's repository.
    const refused = get(mirror.url, `/v2/private/secret/blobs/${layer.digest}`);
    await fillInFlight(mirror, layer.digest);
    const legit = get(mirror.url, `/v2/team/app/blobs/${layer.digest}`);
    const [bad, good] = await Promise.all([refused, legit]);
    assert.equal(bad.status, 403);
    assert.equal(errorCode(bad), 'DENIED');
    assert.equal(good.status, 200, `the follower got ${good.status} ${good.body.toString('utf8').slice(0, 200)}`);
    assert.equal(sha256(good.body), layer.digest);
  });
});
