// Tag lists and referrers reach clients (and browsers) as JSON with nosniff, whatever Content-Type the upstream
// used: an upstream cannot make the mirror's origin serve HTML (docs/security.md, "Mirror and upstream").
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, beforeEach, describe, test } from 'node:test';
import { HostileUpstream, htmlTagList } from '../support/fake/hostile-upstream.js';
import { errorCode, get } from '../support/fake/mirror-over-fake.js';
import { startMirror, type TestMirror } from '../support/mirror-app.js';

const indexType = 'application/vnd.oci.image.index.v1+json';

describe('tags/list and referrers answers', () => {
  let up: HostileUpstream;
  let mirror: TestMirror;
  let digest: string;

  before(async () => {
    up = await new HostileUpstream({ auth: false }).start();
    digest = up.addImage('library/app', '1', [randomBytes(256)]);
    mirror = await startMirror({ upstreams: [{ name: 'hub', registry: 'docker.io', url: up.url, default: true, retries: { attempts: 1 } }] });
  });
  after(async () => {
    await mirror?.close();
    await up?.stop();
  });
  beforeEach(() => up.reset());

  for (const type of [undefined, 'text/html', 'text/html; charset=utf-8', 'application/xml', 'image/svg+xml']) {
    test(`a tag list the upstream sent as ${type ?? 'application/json'} is JSON with nosniff`, async () => {
      if (type) up.hostility.listContentType = type;
      const r = await get(mirror.url, '/v2/app/tags/list');
      assert.equal(r.status, 200);
      assert.equal(r.headers['content-type'], 'application/json');
      assert.equal(r.headers['x-content-type-options'], 'nosniff');
      if (type) assert.equal(r.body.toString(), htmlTagList);
    });

    test(`referrers the upstream sent as ${type ?? indexType} are an OCI index (a JSON type) with nosniff`, async () => {
      if (type) {
        up.hostility.listContentType = type;
        up.hostility.listBody = JSON.stringify({ schemaVersion: 2, mediaType: indexType, manifests: [], annotations: { x: '<script>alert(1)</script>' } });
      }
      const r = await get(mirror.url, `/v2/app/referrers/${digest}`);
      assert.equal(r.status, 200);
      assert.equal(r.headers['content-type'], indexType);
      assert.equal(r.headers['x-content-type-options'], 'nosniff');
    });
  }

  test('an empty page (n=0), answered by the mirror itself, is JSON with nosniff too', async () => {
    const r = await get(mirror.url, '/v2/app/tags/list?n=0');
    assert.equal(r.status, 200);
    assert.equal(r.headers['content-type'], 'application/json');
    assert.equal(r.headers['x-content-type-options'], 'nosniff');
  });

  for (const what of ['tags/list', 'referrers']) {
    test(`a ${what} body that is not a JSON object (an HTML page) is refused as UPSTREAM_INVALID, never passed on`, async () => {
      up.hostility.listContentType = 'text/html';
      up.hostility.listBody = '<html><body><script>alert(document.cookie)</script></body></html>';
      const r = await get(mirror.url, what === 'tags/list' ? '/v2/app/tags/list' : `/v2/app/referrers/${digest}`);
      assert.equal(r.status, 502);
      assert.equal(errorCode(r), 'UPSTREAM_INVALID');
      assert.ok(!r.body.toString().includes('<script>'));
    });
  }
});

describe('listing answers that lie about their length', () => {
  let up: HostileUpstream;
  let mirror: TestMirror;

  before(async () => {
    up = await new HostileUpstream({ auth: false }).start();
    up.addImage('library/app', '1', [randomBytes(256)]);
    mirror = await startMirror({ upstreams: [{ name: 'hub', registry: 'docker.io', url: up.url, default: true, retries: { attempts: 1 } }] });
  });
  after(async () => {
    await mirror?.close();
    await up?.stop();
  });
  beforeEach(() => up.reset());

  for (const [what, lie] of [
    ['beyond the listing cap', 50 * 1024 * 1024 * 1024],
    ['longer than the body', 4096],
    ['shorter than the body', 5],
  ] as const) {
    test(`a tag list announcing a Content-Length ${what} is UPSTREAM_INVALID`, async () => {
      up.hostility.contentLengthLie = lie;
      const r = await get(mirror.url, '/v2/app/tags/list');
      assert.equal(r.status, 502);
      assert.equal(errorCode(r), 'UPSTREAM_INVALID');
    });
  }
});
