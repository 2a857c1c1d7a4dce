// skopeo as the client of two replicas sharing one cache in a real S3 bucket (radosgw), docs/storage.md,
// "The shared catalog": an image skopeo pulled through replica A is pulled again through replica B after the upstream
// (docker-registry, its token server and its CDN) is stopped. B has never seen it: it finds the tag, the manifests and
// the blobs in the bucket, and skopeo gets every layer byte for byte.
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { assertInstalled } from '../support/installed-tools.js';
import type { Descriptor } from '../support/oci-layout.js';
import { assertCdnServedLayersToMirror, assertLayerFiles } from '../support/pull-assertions.js';
import { radosgwPrograms } from '../support/radosgw.js';
import { startSharedBucketPair, type SharedBucketPair } from '../support/shared-bucket-pair.js';
import { skopeo } from '../support/skopeo.js';

const requiredPrograms = ['docker-registry', 'skopeo', 'openssl', ...radosgwPrograms];

test('docker-registry, skopeo and radosgw are installed for the shared catalog e2e test', () => assertInstalled(...requiredPrograms));

describe('skopeo through two replicas sharing a bucket', () => {
  let pair: SharedBucketPair;
  let work: string;

  before(async () => {
    await assertInstalled(...requiredPrograms);
    pair = await startSharedBucketPair();
    work = await mkdtemp(join(tmpdir(), 'pullgate-shared-skopeo-'));
  }, { timeout: 240_000 });

  after(async () => {
    await pair?.stop();
    if (work) await rm(work, { recursive: true, force: true });
  });

  test('skopeo pulls team/app:1.0 through A, then through B with the upstream stopped: every layer byte for byte, all from the bucket', { timeout: 180_000 }, async () => {
    const { a, b, reg } = pair;
    const { app } = pair.fixtures;
    const { config } = JSON.parse(app.raw.toString('utf8')) as { config: Descriptor };
    const copy = async (host: string, dest: string) => {
      await skopeo(['copy', '--quiet', '--src-no-creds', '--src-cert-dir', reg.ca.certDir, `docker://${host}/${app.repository}:${app.tag}`, `oci:${join(work, dest)}:${app.tag}`]);
      await assertLayerFiles(join(work, dest, 'blobs', 'sha256'), app.layers);
    };

    reg.cdn.reset();
    await copy(a.httpsHost, 'through-a');
    assertCdnServedLayersToMirror(reg, app.layers);
    await a.mirror.app.cache.catalog.settled();

    await pair.stopUpstream();
    const from = b.mirror.logs.length;
    await copy(b.httpsHost, 'through-b');
    const lines = b.accessLines(from).filter((l) => l.url.startsWith(`/v2/${app.repository}/`));
    const tagLine = lines.find((l) => l.url === `/v2/${app.repository}/manifests/${app.tag}`);
    assert.equal(tagLine?.status, 200);
    assert.equal(tagLine?.cache, 'HIT', 'the tag came from the bucket, validated by A moments ago (within tagTtl)');
    for (const blob of [config, ...app.layers]) {
      const line = lines.find((l) => l.method === 'GET' && l.url.endsWith(`/blobs/${blob.digest}`));
      assert.equal(line?.cache, 'HIT', `${blob.digest} from the bucket`);
      assert.equal(line?.bytes, blob.size);
    }
    assert.ok(lines.every((l) => l.upstreamStatus === undefined), 'no answer came from the upstream');
    assert.ok(!b.mirror.logs.slice(from).some((l) => l.includes('upstream request failed')), 'no request was even tried upstream');
  });
});
