// An https upstream is never followed to plain http (docs/security.md, "Mirror and upstream" (3)): a redirect of a
// manifest or a blob to an http:// URL (a CDN, an attacker on the path) is refused before anything is dialled, through
// undici and through the direct socket reads alike, with a stable code, a log line without the URL's secret, nothing
// cached. A token realm that redirects to plain http is not followed either. An upstream configured as http:// is
// plain already: its redirects to http are followed.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, beforeEach, describe, test } from 'node:test';
import { FakeUpstream } from '../support/fake/fake-upstream.js';
import { downgradeSecret, HostileUpstream, sha256 } from '../support/fake/hostile-upstream.js';
import { errorCode, get } from '../support/fake/mirror-over-fake.js';
import { startMirror, type TestMirror } from '../support/mirror-app.js';
import { createTestCa } from '../support/pki.js';
import { startRealRegistry, type RealRegistry } from '../support/real-registry.js';
import { registryPusher } from '../support/registry-push.js';

const puller = { username: 'puller', password: 'upstream-secret-1' };
const once = { attempts: 1 };

let tags = 0;
const freshTag = (up: HostileUpstream, repo: string): string => {
  const tag = `d${++tags}`;
  up.addImage(repo, tag, [randomBytes(512)]);
  return tag;
};

describe('an https upstream redirecting to plain http', () => {
  let dir: string;
  let up: HostileUpstream;
  let mirror: TestMirror;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'pullgate-downgrade-'));
    const ca = await createTestCa(dir);
    const cert = await ca.issue('hostile', ['localhost'], ['127.0.0.1']);
    up = await new HostileUpstream({ tls: cert, users: { [puller.username]: puller.password } }).start();
    mirror = await startMirror({
      upstreams: [
        { name: 'hub', registry: 'docker.io', url: up.url, ca: ca.caCertPath, default: true, auth: puller, retries: once },
        { name: 'undici', registry: 'undici.test', hosts: ['undici.test'], url: up.url, ca: ca.caCertPath, auth: puller, retries: once, directReads: false },
      ],
    });
  });
  after(async () => {
    await mirror?.close();
    await up?.stop();
    await rm(dir, { recursive: true, force: true });
  });
  beforeEach(() => up.reset());

  const refusedDowngrade = (r: Awaited<ReturnType<typeof get>>): void => {
    assert.equal(r.status, 502);
    assert.equal(errorCode(r), 'UPSTREAM_INVALID');
    assert.match(r.body.toString(), /plain-http/);
    assert.ok(!r.body.toString().includes(downgradeSecret), "the client's error carries no part of the redirect's query");
    assert.equal(up.count((q) => q.host === 'plain'), 0, 'nothing was sent to the plain-http host');
  };

  test('a manifest fetched by tag is not followed to plain http: 502 UPSTREAM_INVALID, logged with its code, nothing cached', async () => {
    const tag = freshTag(up, 'library/app');
    const logged = mirror.logs.length;
    up.hostility.downgrade = true;
    refusedDowngrade(await get(mirror.url, `/v2/app/manifests/${tag}`));
    const lines = mirror.logs.slice(logged);
    assert.ok(lines.some((l) => l.includes('PULLGATE_PLAIN_HTTP_REDIRECT')), 'the refusal is logged with its code');
    assert.ok(!lines.some((l) => l.includes(downgradeSecret)), "no log line carries the redirect's query");
    up.reset();
    const r = await get(mirror.url, `/v2/app/manifests/${tag}`);
    assert.equal(r.status, 200);
    assert.ok(up.count((q) => q.host === 'registry' && q.method === 'GET' && q.path.endsWith(`/manifests/${tag}`)) > 0, 'nothing was cached: the tag is asked again');
  });

  test('a blob read straight from the socket (direct reads) is not followed to plain http', async () => {
    const layer = randomBytes(4096);
    up.addImage('library/direct', '1', [layer]);
    up.hostility.downgrade = true;
    refusedDowngrade(await get(mirror.url, `/v2/direct/blobs/${sha256(layer)}`));
    up.reset();
    const r = await get(mirror.url, `/v2/direct/blobs/${sha256(layer)}`);
    assert.equal(r.status, 200);
    assert.ok(up.count((q) => q.host === 'registry' && q.method === 'GET' && q.path.endsWith(sha256(layer))) > 0, 'nothing was cached: the blob is fetched again');
  });

  test('a blob read through undici (directReads: false) is not followed to plain http', async () => {
    const layer = randomBytes(4096);
    up.addImage('library/pooled', '1', [layer]);
    up.hostility.downgrade = true;
    refusedDowngrade(await get(mirror.url, `/v2/library/pooled/blobs/${sha256(layer)}`, { headers: { host: 'undici.test' } }));
  });

  test('a token realm that redirects to plain http is not followed: no credential reaches plain http', async () => {
    // A repository no token was fetched for yet, so that the mirror asks the realm.
    const tag = freshTag(up, 'library/tokened');
    up.hostility.tokenRedirectsToPlain = true;
    const r = await get(mirror.url, `/v2/tokened/manifests/${tag}`);
    assert.notEqual(r.status, 200);
    assert.equal(up.count((q) => q.host === 'plain'), 0, 'the token request was not repeated on plain http');
  });
});

describe('a real registry whose blob redirects go to its CDN over plain http', () => {
  let reg: RealRegistry;
  let mirror: TestMirror;
  let layer: Buffer;
  let digest: string;

  before(async () => {
    reg = await startRealRegistry({ cdnPlainHttp: true });
    const pusher = await registryPusher(reg);
    layer = randomBytes(64 * 1024);
    digest = await pusher.blob('team/app', layer);
    await pusher.close();
    const auth = { username: reg.credentials!.user, password: reg.credentials!.password };
    mirror = await startMirror({
      upstreams: [
        { name: 'hub', registry: 'docker.io', url: reg.url, ca: reg.caFile, default: true, auth, retries: once },
        { name: 'undici', registry: 'undici.test', hosts: ['undici.test'], url: reg.url, ca: reg.caFile, auth, retries: once, directReads: false },
      ],
    });
  }, { timeout: 120_000 });
  after(async () => {
    await mirror?.close();
    await reg?.stop();
  });

  test('the redirect is refused, direct reads and undici alike: the CDN is never asked, the client gets 502 UPSTREAM_INVALID', async () => {
    for (const host of [undefined, 'undici.test']) {
      const r = await get(mirror.url, `/v2/team/app/blobs/${digest}`, host ? { headers: { host } } : {});
      assert.equal(r.status, 502, `through ${host ?? 'direct reads'}`);
      assert.equal(errorCode(r), 'UPSTREAM_INVALID');
      assert.match(r.body.toString(), /plain-http/);
    }
    assert.deepEqual(reg.cdn.requests, [], 'nothing was sent to the plain-http CDN');
    assert.ok(mirror.logs.some((l) => l.includes('PULLGATE_PLAIN_HTTP_REDIRECT')));
    assert.ok(!mirror.logs.some((l) => /X-Amz-Signature|[?&]signature=/i.test(l)), "no log line carries the redirect's query");
  });
});

describe('an upstream configured as plain http', () => {
  let up: HostileUpstream;
  let mirror: TestMirror;

  before(async () => {
    up = await new HostileUpstream({ users: { [puller.username]: puller.password } }).start();
    mirror = await startMirror({ upstreams: [{ name: 'hub', registry: 'docker.io', url: up.url, default: true, auth: puller, retries: once }] });
  });
  after(async () => {
    await mirror?.close();
    await up?.stop();
  });

  test('is plain already: its redirects to another plain-http host are followed, for manifests and blobs', async () => {
    const layer = randomBytes(4096);
    up.addImage('library/plain', '1', [layer]);
    up.hostility.downgrade = true;
    const m = await get(mirror.url, '/v2/plain/manifests/1');
    assert.equal(m.status, 200);
    const b = await get(mirror.url, `/v2/plain/blobs/${sha256(layer)}`);
    assert.equal(b.status, 200);
    assert.deepEqual(b.body, layer);
    assert.ok(up.count((q) => q.host === 'plain') >= 2);
  });
});

describe('a plain-http mirror URL of an https upstream', () => {
  let up: FakeUpstream;
  let mirror: TestMirror;

  before(async () => {
    up = await new FakeUpstream().start();
    // The origin is never reached: the mirror URL answers first. Its blobs redirect to its own plain-http CDN.
    mirror = await startMirror({
      cache: { fillIdleTimeout: '3s' },
      upstreams: [
        {
          name: 'hub',
          registry: 'docker.io',
          url: 'https://localhost:1',
          mirrors: [up.url],
          default: true,
          retries: { attempts: 1 },
          segments: { connections: 3, size: '64KiB', threshold: '128KiB' },
        },
      ],
    });
  });
  after(async () => {
    await mirror?.close();
    await up?.stop();
  });

  test('is plain already: a segmented fill of its CDN URL (Range requests to the URL it redirected to) completes', async () => {
    const layer = randomBytes(512 * 1024);
    const digest = up.addBlob(layer);
    up.faults.redirectBlobs = 'absolute';
    const r = await get(mirror.url, `/v2/library/alpine/blobs/${digest}`);
    assert.equal(r.status, 200, r.body.toString().slice(0, 300));
    assert.deepEqual(r.body, layer);
    assert.ok(up.requests.some((q) => q.origin === 'cdn' && q.headers.range !== undefined), 'the fill was segmented on the CDN URL');
  });
});
