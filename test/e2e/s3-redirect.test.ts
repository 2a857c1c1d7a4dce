// `cache.storage.redirect: true` with real clients: skopeo and containerd's ctr pull images through a mirror whose
// blobs live in radosgw, log in with the mirror's own users, get 307 to presigned URLs for the blobs in the bucket and
// download them from the object store themselves. radosgw's own access log is the ground truth for who fetched what;
// the object store is reached through a TCP relay (its `redirectEndpoint`, another host than the mirror's
// `localhost`) that keeps the request heads, to show the mirror's Authorization never got there.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { CreateBucketCommand } from '@aws-sdk/client-s3';
import { hashPassword } from '../../src/access/password.js';
import { createS3Client } from '../../src/cache/s3-client.js';
import { contentDigests, ctrEnvWithoutSystemCa, startContainerd, writeHostsToml, type Containerd } from '../support/containerd.js';
import { pushFixtures, type FixtureImage, type Fixtures } from '../support/fixture-images.js';
import { assertInstalled } from '../support/installed-tools.js';
import { startMirror, type TestMirror } from '../support/mirror-app.js';
import type { Descriptor } from '../support/oci-layout.js';
import { assertLayerFiles, assertLogsHoldNoSecrets } from '../support/pull-assertions.js';
import { parseAccessLines } from '../support/pull-through-setup.js';
import { radosgwPrograms, startRadosgw, type Radosgw } from '../support/radosgw.js';
import { startRealRegistry, type RealRegistry } from '../support/real-registry.js';
import { skopeo } from '../support/skopeo.js';
import { startTcpRelay, type TcpRelay } from '../support/tcp-relay.js';

const requiredPrograms = ['docker-registry', 'skopeo', 'openssl', 'containerd', 'ctr', ...radosgwPrograms];
const bucket = 'pullgate-redirect';
const prefix = 'mirror/';
const user = { user: 'ci', password: 'ci-redirect-password' };
const slow = { timeout: 180_000 };

test('docker-registry, skopeo, containerd, ctr and radosgw are installed for the redirect e2e tests', () => assertInstalled(...requiredPrograms));

describe('clients follow presigned blob redirects to the bucket (radosgw)', () => {
  let rgw: Radosgw;
  let relay: TcpRelay;
  let reg: RealRegistry;
  let fixtures: Fixtures;
  let mirror: TestMirror;
  let containerd: Containerd;
  let work: string;
  /** `localhost:PORT`: another host than the object store's 127.0.0.1, as a mirror and a bucket are in production. */
  let mirrorAt: string;

  const keyOf = (digest: string): string => `${prefix}blobs/sha256/${digest.slice(7, 9)}/${digest.slice(7)}`;
  const blobsOf = (image: FixtureImage): Descriptor[] => {
    const { config } = JSON.parse(image.raw.toString('utf8')) as { config: Descriptor };
    return [...image.layers, config];
  };
  const warm = async (image: FixtureImage): Promise<void> => {
    await skopeo(['copy', '--quiet', '--src-creds', `${user.user}:${user.password}`, '--src-cert-dir', reg.ca.certDir, `docker://${mirrorAt}/${image.repository}:${image.tag}`, `oci:${join(work, `warm-${image.repository.replace('/', '-')}`)}:x`]);
  };

  /** What the mirror answered and what radosgw served for each blob since the marks. */
  const assertRedirected = async (blobs: Descriptor[], from: { line: number; rgw: number; relay: number }) => {
    const lines = parseAccessLines(mirror.logs.slice(from.line));
    const served = (await rgw.requests()).slice(from.rgw);
    for (const blob of blobs) {
      const gets = lines.filter((l) => l.method === 'GET' && l.url.includes(`/blobs/${blob.digest}`));
      assert.ok(gets.length > 0, `the client asked the mirror for ${blob.digest}`);
      for (const l of gets) {
        assert.deepEqual([l.status, l.cache, l.bytes], [307, 'REDIRECT', 0], `the mirror redirected GET ${blob.digest}`);
      }
      const fetched = served.filter((r) => r.path === `/${bucket}/${keyOf(blob.digest)}` && r.method === 'GET');
      assert.ok(fetched.length > 0, `the client fetched ${blob.digest} from radosgw`);
      for (const r of fetched) {
        assert.match(r.query, /(^|&)X-Amz-Signature=[0-9a-f]{64}(&|$)/, `a presigned GET of ${blob.digest}`);
        assert.ok(r.status === 200 || r.status === 206, `radosgw answered ${r.status} for ${blob.digest}`);
      }
    }
    const heads = relay.sent().slice(from.relay);
    assert.match(heads, /^GET \/pullgate-redirect\/mirror\/blobs\/sha256\/.*X-Amz-Signature=/m, 'the clients reached radosgw through the redirect endpoint');
    assert.doesNotMatch(heads, /^authorization:/im, 'no Authorization header reached the object store');
  };
  const marks = async () => ({ line: mirror.logs.length, rgw: (await rgw.requests()).length, relay: relay.sent().length });

  before(async () => {
    await assertInstalled(...requiredPrograms);
    work = await mkdtemp(join(tmpdir(), 'pullgate-redirect-e2e-'));
    rgw = await startRadosgw();
    const s3 = createS3Client({ endpoint: rgw.endpoint, region: rgw.region, accessKeyId: rgw.accessKeyId, secretAccessKey: rgw.secretAccessKey, forcePathStyle: true }, { connectMs: 2_000, idleMs: 10_000 });
    await s3.send(new CreateBucketCommand({ Bucket: bucket }));
    s3.destroy();
    relay = await startTcpRelay(Number(new URL(rgw.endpoint).port));
    reg = await startRealRegistry();
    fixtures = await pushFixtures(reg);
    const cert = await reg.ca.issue('pullgate-redirect-mirror', ['localhost'], ['127.0.0.1']);
    mirror = await startMirror({
      listen: { https: '127.0.0.1:0' },
      tls: { certificates: [{ cert: cert.certPath, key: cert.keyPath }] },
      access: { login: 'required', users: [{ username: user.user, passwordHash: await hashPassword(user.password) }] },
      upstreams: [{ name: 'hub', registry: 'docker.io', url: reg.url, ca: reg.caFile, default: true }],
      cache: {
        storage: {
          type: 's3', endpoint: rgw.endpoint, region: rgw.region, bucket, prefix, accessKeyId: rgw.accessKeyId, secretAccessKey: rgw.secretAccessKey,
          forcePathStyle: true, redirect: true, redirectTtl: '5m', redirectEndpoint: relay.url,
        },
      },
    });
    mirrorAt = `localhost:${new URL(mirror.httpsUrl ?? '').port}`;
    containerd = await startContainerd('pullgate-redirect');
  }, { timeout: 240_000 });

  after(async () => {
    await containerd?.stop();
    await mirror?.close();
    await reg?.stop();
    await relay?.close();
    await rgw?.stop();
    if (work) await rm(work, { recursive: true, force: true });
  });

  test('skopeo, logged in, gets 307 for every blob in the bucket and fetches each with a presigned GET, byte-exact', slow, async () => {
    const image = fixtures.app;
    await warm(image);
    const from = await marks();
    const dest = join(work, 'skopeo-app');
    await skopeo(['copy', '--quiet', '--src-creds', `${user.user}:${user.password}`, '--src-cert-dir', reg.ca.certDir, `docker://${mirrorAt}/${image.repository}:${image.tag}`, `oci:${dest}:1.0`]);
    await assertLayerFiles(join(dest, 'blobs', 'sha256'), blobsOf(image));
    await assertRedirected(blobsOf(image), from);
    const manifests = parseAccessLines(mirror.logs.slice(from.line)).filter((l) => l.url.includes('/manifests/'));
    assert.ok(manifests.length > 0 && manifests.every((l) => l.status === 200), 'manifests are served by the mirror, never redirected');
    assertLogsHoldNoSecrets(mirror.logs, [user, { user: 'rgw', password: rgw.secretAccessKey }]);
  });

  test('ctr, logged in with --user through hosts.toml, follows the 307s to radosgw and stores byte-exact layers', slow, async () => {
    const image = fixtures.alpine;
    await warm(image);
    const hostsDir = join(work, 'certs.d');
    await writeHostsToml(hostsDir, 'docker.io', { server: 'https://registry-1.docker.io', mirror: `https://${mirrorAt}`, ca: reg.caFile });
    const from = await marks();
    const ref = `docker.io/library/alpine:${image.tag}`;
    await containerd.ctr(['images', 'pull', '--user', `${user.user}:${user.password}`, '--hosts-dir', hostsDir, ref], { env: ctrEnvWithoutSystemCa() });
    const content = await contentDigests(containerd);
    for (const blob of blobsOf(image)) {
      assert.ok(content.has(blob.digest), `${blob.digest} is in containerd's content store`);
      const { stdout } = await containerd.ctr(['content', 'get', blob.digest]);
      assert.equal(`sha256:${createHash('sha256').update(stdout).digest('hex')}`, blob.digest, `containerd holds the exact bytes of ${blob.digest}`);
    }
    await assertRedirected(blobsOf(image), from);
  });
});
