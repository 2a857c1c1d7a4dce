// With the real upstream (Debian docker-registry, its token server and its CDN) stopped, skopeo and ctr still pull
// every image that was pulled before, by tag and by digest (docs/storage.md, "The cache": through trouble). Within
// tagTtl (the default 5m) every manifest and blob is a cache HIT; a second mirror on the same cache with tagTtl 1ms
// serves the tags STALE. An image that was never pulled fails cleanly with 503 UNAVAILABLE instead of hanging.
import assert from 'node:assert/strict';
import { mkdir, readFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { Agent, request } from 'undici';
import { contentDigests, listImages, startContainerd, writeHostsToml, type Containerd } from '../support/containerd.js';
import { assertInstalled, ToolError } from '../support/installed-tools.js';
import type { Descriptor } from '../support/oci-layout.js';
import { assertLayerFiles } from '../support/pull-assertions.js';
import {
  mirrorNames,
  parseAccessLines,
  sha256,
  startPullThroughSetup,
  type AccessLine,
  type MirrorName,
  type PullThroughSetup,
  type SiblingMirror,
} from '../support/pull-through-setup.js';
import { skopeo } from '../support/skopeo.js';

const requiredPrograms = ['docker-registry', 'skopeo', 'openssl', 'containerd', 'ctr'];
const slow = { timeout: 600_000 };
const toolTimeoutMs = 180_000;

test('docker-registry, skopeo, openssl, containerd and ctr are installed for the upstream-outage e2e tests', () =>
  assertInstalled(...requiredPrograms));

type By = 'tag' | 'digest';
type Client = 'skopeo' | 'ctr';

/** One fixture image as both clients pull it. */
interface ImageCase {
  label: string;
  /** The mirror hostname skopeo uses (routes to `upstream`). */
  skopeoHost: MirrorName;
  upstream: 'corp' | 'hub';
  repository: string;
  tag: string;
  /** The registry name ctr pulls from; hosts.toml sends it to the mirror root with `?ns=`. */
  ctrRegistry: string;
  /** What the tag points at upstream (an index for multi). */
  digest: string;
  /** The manifest skopeo copies into `dir:` (the arm64 child for multi). */
  skopeoManifestDigest: string;
  /** The layers both clients must end up with (one platform for multi). */
  layers: Descriptor[];
  /** Only for the index: pull linux/arm64/v8. */
  arm64: boolean;
}

interface Pulled {
  client: Client;
  image: string;
  by: By;
  digest: string;
}

/** Without SSL_CERT_FILE: ctr trusts only the hosts.toml `ca`, and it could not fall back to the upstream anyway. */
const ctrEnv = (): NodeJS.ProcessEnv => {
  const env = { ...process.env };
  delete env['SSL_CERT_FILE'];
  delete env['SSL_CERT_DIR'];
  return env;
};

const show = (lines: readonly AccessLine[]): string =>
  lines.map((l) => `${l.method} ${l.host ?? ''}${l.url} -> ${l.status} cache=${l.cache ?? '-'} upstreamStatus=${l.upstreamStatus ?? '-'}`).join('\n');

const pathOf = (url: string): string => url.split('?')[0] ?? url;

/** `/v2/<name>/manifests/<reference>` -> reference; undefined for anything else. */
function manifestReference(url: string): string | undefined {
  return /\/manifests\/([^/]+)$/.exec(pathOf(url))?.[1];
}

const isContentRequest = (l: AccessLine): boolean => /\/(manifests|blobs)\/[^/]+$/.test(pathOf(l.url));

/**
 * Every manifest and blob request was answered 200 from the cache without any upstream answer: tag references with
 * `tagCache`, digests (manifests and blobs) HIT; never MISS. Anything else may only be the `/v2/` ping, answered 200.
 */
function assertServedFromCache(lines: readonly AccessLine[], tagCache: 'HIT' | 'STALE'): void {
  const content = lines.filter(isContentRequest);
  assert.ok(content.length > 0, 'the mirror logged no manifest or blob request');
  for (const l of lines) {
    if (!isContentRequest(l)) {
      assert.equal(pathOf(l.url), '/v2/', `an unexpected request reached the mirror:\n${show([l])}`);
      assert.equal(l.status, 200, `the /v2/ ping failed:\n${show(lines)}`);
      continue;
    }
    const reference = manifestReference(l.url);
    const want = reference !== undefined && !reference.startsWith('sha256:') ? tagCache : 'HIT';
    assert.notEqual(l.cache, 'MISS', `a MISS while the upstream is down:\n${show([l])}\nall lines:\n${show(lines)}`);
    assert.equal(l.cache, want, `expected cache=${want}:\n${show([l])}\nall lines:\n${show(lines)}`);
    assert.ok(l.status === 200 || l.status === 206, `a failed request while the upstream is down:\n${show([l])}\nall lines:\n${show(lines)}`);
    assert.equal(l.upstreamStatus, undefined, `an upstream answer was logged while the upstream is down:\n${show([l])}`);
  }
}

/** No log line at level error (50) or above. */
function assertNoErrorsLogged(logs: readonly string[]): void {
  const errors = logs.filter((line) => {
    try {
      const level = (JSON.parse(line) as { level?: unknown }).level;
      return typeof level === 'number' && level >= 50;
    } catch {
      return false;
    }
  });
  assert.deepEqual(errors, [], 'the mirror logged errors');
}

/** A TCP connection to `url`'s host and port is refused. */
async function assertRefused(url: string, what: string): Promise<void> {
  const { hostname, port } = new URL(url);
  const outcome = await new Promise<string>((resolve) => {
    const socket = connect({ host: hostname, port: Number(port) });
    socket.setTimeout(5_000, () => {
      socket.destroy();
      resolve('timeout');
    });
    socket.once('connect', () => {
      socket.destroy();
      resolve('connected');
    });
    socket.once('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? err.message));
  });
  assert.equal(outcome, 'ECONNREFUSED', `${what} at ${hostname}:${port} is not down (${outcome})`);
}

describe('pulling through the mirror while the real upstream is down', () => {
  let s: PullThroughSetup;
  let certDir: string;
  let images: ImageCase[];
  const containerds: Containerd[] = [];
  /** What the first round (upstream up) got, to compare the later rounds with. */
  const firstRound: Pulled[] = [];

  const freshContainerd = async (): Promise<Containerd> => {
    const c = await startContainerd('pullgate-outage');
    containerds.push(c);
    return c;
  };

  /** hosts.toml files sending the corp registry and docker.io to `mirrorRoot`. */
  const writeHostsDir = async (name: string, mirrorRoot: string): Promise<string> => {
    const dir = join(s.work, name);
    const mirror = `https://${mirrorRoot}`;
    await writeHostsToml(dir, s.reg.host, { server: `https://${s.reg.host}`, mirror, ca: s.reg.caFile });
    await writeHostsToml(dir, 'docker.io', { server: 'https://registry-1.docker.io', mirror, ca: s.reg.caFile });
    return dir;
  };

  const skopeoPull = async (at: (n: MirrorName) => string, image: ImageCase, by: By, dest: string): Promise<Pulled> => {
    const ref = `docker://${at(image.skopeoHost)}/${image.repository}${by === 'tag' ? `:${image.tag}` : `@${image.digest}`}`;
    const platform = image.arm64 ? ['--override-os', 'linux', '--override-arch', 'arm64', '--override-variant', 'v8'] : [];
    await skopeo([...platform, 'copy', '--quiet', '--src-no-creds', '--src-cert-dir', certDir, ref, `dir:${dest}`], { timeoutMs: toolTimeoutMs });
    const digest = sha256(await readFile(join(dest, 'manifest.json')));
    assert.equal(digest, image.skopeoManifestDigest, `skopeo copy ${ref} got another manifest`);
    await assertLayerFiles(dest, image.layers);
    return { client: 'skopeo', image: image.label, by, digest };
  };

  const ctrPull = async (c: Containerd, hostsDir: string, image: ImageCase, by: By): Promise<Pulled> => {
    const ref = `${image.ctrRegistry}/${image.repository}${by === 'tag' ? `:${image.tag}` : `@${image.digest}`}`;
    const before = await contentDigests(c);
    for (const layer of image.layers) assert.ok(!before.has(layer.digest), `layer ${layer.digest} is in containerd's store before the pull`);
    const platform = image.arm64 ? ['--platform', 'linux/arm64/v8'] : [];
    await c.ctr(['images', 'pull', ...platform, '--hosts-dir', hostsDir, ref], { env: ctrEnv(), timeoutMs: toolTimeoutMs });
    const listed = (await listImages(c)).find((i) => i.name === ref);
    assert.ok(listed, `ctr images ls does not list ${ref}`);
    assert.equal(listed.digest, image.digest, `ctr pull ${ref} resolved to another digest`);
    const content = await contentDigests(c);
    for (const layer of image.layers) assert.ok(content.has(layer.digest), `layer ${layer.digest} of ${ref} is not in containerd's content store`);
    return { client: 'ctr', image: image.label, by, digest: listed.digest };
  };

  /**
   * Every image by tag and by digest with skopeo (into fresh `dir:` folders) and with ctr (one fresh containerd for
   * the tag pulls and another for the digest pulls, so every ctr pull really fetches its blobs).
   */
  const pullEverything = async (round: string, at: (n: MirrorName) => string, hostsDir: string): Promise<Pulled[]> => {
    const out: Pulled[] = [];
    const dir = join(s.work, round);
    await mkdir(dir, { recursive: true });
    for (const by of ['tag', 'digest'] as const) {
      for (const [i, image] of images.entries()) out.push(await skopeoPull(at, image, by, join(dir, `skopeo-${by}-${i}`)));
      const c = await freshContainerd();
      try {
        for (const image of images) out.push(await ctrPull(c, hostsDir, image, by));
      } finally {
        await c.stop();
      }
    }
    return out;
  };

  const assertSameAsFirstRound = (pulled: readonly Pulled[]): void => {
    assert.equal(pulled.length, firstRound.length);
    const key = (p: Pulled): string => `${p.client} ${p.image} by ${p.by}`;
    const first = new Map(firstRound.map((p) => [key(p), p.digest]));
    for (const p of pulled) assert.equal(p.digest, first.get(key(p)), `${key(p)}: another digest than before the outage`);
  };

  before(async () => {
    await assertInstalled(...requiredPrograms);
    s = await startPullThroughSetup();
    certDir = s.reg.ca.certDir;
    const { app, alpine, multi } = s.fixtures;
    const arm64 = multi.children['linux/arm64'];
    assert.ok(arm64, 'the multi fixture has no linux/arm64 child');
    images = [
      {
        label: 'team/app:1.0 via corp',
        skopeoHost: 'corp',
        upstream: 'corp',
        repository: 'team/app',
        tag: '1.0',
        ctrRegistry: s.reg.host,
        digest: app.digest,
        skopeoManifestDigest: app.digest,
        layers: app.layers,
        arm64: false,
      },
      {
        label: 'library/alpine:3.20 via hub',
        skopeoHost: 'hub',
        upstream: 'hub',
        repository: 'library/alpine',
        tag: '3.20',
        ctrRegistry: 'docker.io',
        digest: alpine.digest,
        skopeoManifestDigest: alpine.digest,
        layers: alpine.layers,
        arm64: false,
      },
      {
        label: 'library/multi:latest linux/arm64 via hub',
        skopeoHost: 'hub',
        upstream: 'hub',
        repository: 'library/multi',
        tag: 'latest',
        ctrRegistry: 'docker.io',
        digest: multi.digest,
        skopeoManifestDigest: arm64.digest,
        layers: arm64.layers,
        arm64: true,
      },
    ];
  }, { timeout: 300_000 });

  after(async () => {
    for (const c of containerds) await c.stop().catch(() => undefined);
    await s?.stop();
  });

  test('with the upstream up, skopeo and ctr pull team/app:1.0 (corp), library/alpine:3.20 and linux/arm64 of library/multi:latest (hub) by tag and by digest', slow, async () => {
    const from = s.mark();
    const hostsDir = await writeHostsDir('certs.d', s.at('root'));
    firstRound.push(...(await pullEverything('before-outage', (n) => s.at(n), hostsDir)));
    assert.equal(firstRound.length, images.length * 2 * 2);

    const lines = parseAccessLines(s.logsSince(from.mirror));
    assert.ok(lines.some((l) => l.cache === 'MISS'), `the first round filled nothing from the upstream:\n${show(lines)}`);
    const failed = lines.filter((l) => l.status >= 400);
    assert.deepEqual(failed, [], `requests failed with the upstream up:\n${show(failed)}`);
    for (const image of images) {
      assert.ok(
        lines.some((l) => l.upstream === image.upstream && l.repository === image.repository && l.cache === 'MISS'),
        `${image.label}: no MISS under ${image.upstream}/${image.repository}:\n${show(lines)}`,
      );
    }
  });

  test('the real registry, its token server and its CDN are stopped: direct connections are refused', slow, async () => {
    assert.equal(firstRound.length, images.length * 4, 'the first round did not complete');
    await s.stopUpstream();
    await assertRefused(s.reg.url, 'docker-registry');
    await assertRefused(s.reg.tokenServer.url, 'the token server');
    await assertRefused(s.reg.cdn.url, 'the CDN');
  });

  test('upstream down, tags within tagTtl (5m default): skopeo and ctr (fresh content stores) pull every image again by tag and by digest, identical digests, every manifest and blob a HIT', slow, async () => {
    assert.equal(firstRound.length, images.length * 4, 'the first round did not complete');
    await assertRefused(s.reg.url, 'docker-registry');
    const from = s.mark();
    const hostsDir = join(s.work, 'certs.d');
    const pulled = await pullEverything('outage-fresh', (n) => s.at(n), hostsDir);
    assertSameAsFirstRound(pulled);

    const lines = parseAccessLines(s.logsSince(from.mirror));
    assertServedFromCache(lines, 'HIT');
    // Both clients and both reference kinds really went through the mirror.
    for (const image of images) {
      const mine = lines.filter((l) => l.upstream === image.upstream && l.repository === image.repository);
      assert.ok(mine.some((l) => manifestReference(l.url) === image.tag), `${image.label}: no tag request:\n${show(mine)}`);
      assert.ok(mine.some((l) => manifestReference(l.url) === image.digest), `${image.label}: no digest request:\n${show(mine)}`);
      for (const layer of image.layers) {
        const gets = mine.filter((l) => l.method === 'GET' && pathOf(l.url).endsWith(`/blobs/${layer.digest}`));
        // skopeo by tag, skopeo by digest, ctr by tag, ctr by digest.
        assert.ok(gets.length >= 4, `${image.label}: layer ${layer.digest} served ${gets.length} times, expected 4:\n${show(mine)}`);
      }
    }
    assertNoErrorsLogged(s.logsSince(from.mirror));
  });

  test('upstream down, an image never pulled fails cleanly: skopeo fails, the mirror answers 503 UNAVAILABLE at once', slow, async () => {
    const { multi, multiDocker } = s.fixtures;
    const amd64 = multi.children['linux/amd64'];
    assert.ok(amd64, 'the multi fixture has no linux/amd64 child');
    const from = s.mark();

    const started = Date.now();
    const ref = `docker://${s.at('hub')}/library/multi:v2s2`;
    await assert.rejects(
      skopeo(['inspect', '--raw', '--no-creds', '--cert-dir', certDir, ref], { timeoutMs: 120_000 }),
      (err: unknown) => err instanceof ToolError && /503|unavailable/i.test(err.stderr),
      `skopeo inspect ${ref} did not fail with 503 / unavailable`,
    );
    await assert.rejects(
      skopeo(['copy', '--quiet', '--src-no-creds', '--src-cert-dir', certDir, ref, `dir:${join(s.work, 'never-pulled')}`], { timeoutMs: 120_000 }),
      (err: unknown) => err instanceof ToolError && /503|unavailable/i.test(err.stderr),
      `skopeo copy ${ref} did not fail with 503 / unavailable`,
    );
    assert.ok(Date.now() - started < 60_000, `skopeo took ${Date.now() - started} ms to fail`);

    const agent = new Agent({ connect: { ca: s.reg.ca.caCertPem, servername: mirrorNames.hub } });
    try {
      const accept = [
        'application/vnd.oci.image.index.v1+json',
        'application/vnd.oci.image.manifest.v1+json',
        'application/vnd.docker.distribution.manifest.list.v2+json',
        'application/vnd.docker.distribution.manifest.v2+json',
      ].join(', ');
      const uncached = [
        { what: 'a tag never pulled', path: '/v2/library/multi/manifests/v2s2' },
        { what: 'a manifest digest never pulled', path: `/v2/library/multi/manifests/${multiDocker.digest}` },
        { what: 'the amd64 child of an index pulled for arm64 only', path: `/v2/library/multi/manifests/${amd64.digest}` },
        { what: 'a blob never pulled', path: `/v2/library/multi/blobs/${amd64.layers[0]?.digest ?? ''}` },
      ];
      for (const u of uncached) {
        const t0 = Date.now();
        const res = await request(`https://127.0.0.1:${s.port}${u.path}`, {
          dispatcher: agent,
          headers: { host: s.at('hub'), accept },
          headersTimeout: 30_000,
          bodyTimeout: 30_000,
        });
        const body = await res.body.text();
        const ms = Date.now() - t0;
        assert.equal(res.statusCode, 503, `${u.what} (${u.path}): ${res.statusCode} ${body}`);
        const parsed = JSON.parse(body) as { errors?: { code?: string }[] };
        assert.equal(parsed.errors?.[0]?.code, 'UNAVAILABLE', `${u.what}: ${body}`);
        assert.ok(ms < 10_000, `${u.what}: the mirror took ${ms} ms to answer`);
      }
    } finally {
      await agent.close();
    }

    const lines = parseAccessLines(s.logsSince(from.mirror)).filter(isContentRequest);
    assert.ok(lines.length > 0, 'the mirror logged none of these requests');
    for (const l of lines) assert.equal(l.status, 503, `expected 503 for every request of an uncached image:\n${show(lines)}`);
  });

  test('upstream down, a second mirror on the same cache with tagTtl 1ms: skopeo and ctr pull every image by tag and by digest, the tags served STALE, digests and blobs HIT', slow, async () => {
    assert.equal(firstRound.length, images.length * 4, 'the first round did not complete');
    await assertRefused(s.reg.url, 'docker-registry');
    const sibling: SiblingMirror = await s.startSiblingMirror({ tagTtl: '1ms' });
    const hostsDir = await writeHostsDir('certs.d-stale', sibling.at('root'));
    const pulled = await pullEverything('outage-stale', (n) => sibling.at(n), hostsDir);
    assertSameAsFirstRound(pulled);

    const lines = sibling.accessLines();
    assertServedFromCache(lines, 'STALE');
    for (const image of images) {
      const tagLines = lines.filter((l) => l.repository === image.repository && manifestReference(l.url) === image.tag);
      // skopeo GETs the tag; ctr resolves it with a HEAD.
      assert.ok(tagLines.some((l) => l.method === 'GET' && l.cache === 'STALE'), `${image.label}: no STALE GET of the tag:\n${show(lines)}`);
      assert.ok(tagLines.some((l) => l.method === 'HEAD' && l.cache === 'STALE'), `${image.label}: no STALE HEAD of the tag:\n${show(lines)}`);
    }
    assertNoErrorsLogged(sibling.mirror.logs);
  });
});
