// Which upstream requests ask for a direct read (UpstreamRequest.direct: the body is read through chunkSourceOf()):
// a fill's GET and the Range requests that resume it, never a manifest or a blob passed through without a fill
// (docs/architecture.md, "Decision: blobs stream, verify, then commit"). The upstream client is observed, not
// replaced: every request still goes to the fake registry.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { request } from 'undici';
import { Upstream } from '../../src/upstream/upstream.js';
import type { UpstreamRequest } from '../../src/upstream/exchange.js';
import { FakeUpstream } from '../support/fake/fake-upstream.js';
import { startMirror, type TestMirror } from '../support/mirror-app.js';

describe('direct reads of upstream bodies', () => {
  let up: FakeUpstream;
  let mirror: TestMirror;
  const seen: UpstreamRequest[] = [];
  const { fetch, fetchResolved } = Upstream.prototype;

  before(async () => {
    Upstream.prototype.fetch = function (this: Upstream, req: UpstreamRequest) {
      seen.push(req);
      return fetch.call(this, req);
    };
    Upstream.prototype.fetchResolved = function (this: Upstream, url: URL, req: UpstreamRequest, via?: string) {
      seen.push(req);
      return fetchResolved.call(this, url, req, via);
    };
    up = await new FakeUpstream().start();
    mirror = await startMirror({ upstreams: [{ name: 'hub', registry: 'docker.io', url: up.url, default: true, retries: { attempts: 3, minDelay: '20ms', maxDelay: '200ms' } }] });
  });
  after(async () => {
    Upstream.prototype.fetch = fetch;
    Upstream.prototype.fetchResolved = fetchResolved;
    await mirror.close();
    await up.stop();
  });

  const blobRequests = (digest: string) => seen.filter((r) => r.path.endsWith(`/blobs/${digest}`));

  test('a fill\'s GET and the Range request resuming it ask for a direct read; the manifest GET does not', async () => {
    const layer = randomBytes(2 * 1024 * 1024 + 5);
    const image = up.addImage('library/alpine', 'direct', [layer]);
    const manifest = await request(`${mirror.url}/v2/library/alpine/manifests/direct`, { headers: { accept: image.mediaType } });
    assert.equal(manifest.statusCode, 200);
    await manifest.body.dump();
    const digest = up.addBlob(layer);
    up.faults.resetBlobAt = 1024 * 1024;
    up.faults.resetBlobTimes = 1;
    const res = await request(`${mirror.url}/v2/library/alpine/blobs/${digest}`);
    const got = Buffer.from(await res.body.arrayBuffer());
    assert.equal(res.statusCode, 200);
    assert.ok(got.equals(layer));
    const blobs = blobRequests(digest);
    assert.equal(blobs.length, 2, 'the fill\'s GET and one Range request');
    assert.deepEqual(blobs.map((r) => [r.headers?.range !== undefined, r.direct]), [[false, true], [true, true]]);
    const manifests = seen.filter((r) => r.path.includes('/manifests/'));
    assert.ok(manifests.length > 0);
    assert.ok(manifests.every((r) => r.direct === undefined), 'no manifest request asks for a direct read');
  });

  test('a HEAD of an uncached blob, passed through without a fill, does not ask for a direct read', async () => {
    const digest = up.addBlob(randomBytes(1000));
    const res = await request(`${mirror.url}/v2/library/alpine/blobs/${digest}`, { method: 'HEAD' });
    assert.equal(res.statusCode, 200);
    await res.body.dump();
    const blobs = blobRequests(digest);
    assert.ok(blobs.length > 0);
    assert.ok(blobs.every((r) => r.direct === undefined));
  });
});
