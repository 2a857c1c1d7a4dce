// Retention with a pattern watch entry against a real docker-registry (docs/watch.md): the last K digests are kept
// for the tags the entry follows now. A tag that left "newest N" is no longer watched, so its images age out as
// usual instead of being kept for ever.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { assertInstalled } from '../support/installed-tools.js';
import { startMirror, type TestMirror } from '../support/mirror-app.js';
import { startRealRegistry, type RealRegistry } from '../support/real-registry.js';
import { registryPusher, type RegistryPusher } from '../support/registry-push.js';
import type { Timer } from '../../src/watch/watch-scheduler.js';

const hour = 3600_000;
const sha256 = (b: Buffer): string => `sha256:${createHash('sha256').update(b).digest('hex')}`;
const manualTimer: Timer = { set: () => undefined, clear: () => undefined };

describe('watch retention with newest N, real docker-registry', { timeout: 300_000 }, () => {
  let reg: RealRegistry;
  let mirror: TestMirror;
  let pusher: RegistryPusher;
  let now = Date.UTC(2026, 11, 7, 8, 30);
  const entry = 'hub/team/rel:v*';

  /** Pushes a small image as team/rel:`tag`. */
  async function release(tag: string): Promise<string> {
    const config = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [] }, created: tag }));
    await pusher.blob('team/rel', config);
    const manifest = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.manifest.v1+json', config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: sha256(config), size: config.length }, layers: [] }));
    return pusher.manifest('team/rel', tag, manifest, 'application/vnd.oci.image.manifest.v1+json');
  }

  before(async () => {
    await assertInstalled('docker-registry', 'openssl');
    reg = await startRealRegistry();
    pusher = await registryPusher(reg);
    mirror = await startMirror(
      { upstreams: [{ name: 'hub', registry: 'docker.io', url: reg.url, ca: reg.caFile, default: true, watch: [{ repository: 'team/rel', tags: ['v*'], newest: 1, every: '1h', keep: 1 }] }] },
      { clock: () => now, watchTimer: manualTimer },
    );
  });

  after(async () => {
    await mirror?.close();
    await pusher?.close();
    await reg?.stop();
  });

  test('a tag that left "newest N" keeps nothing from eviction, and is no longer listed as watched', async () => {
    const v1 = await release('v1.0.0');
    now = Date.UTC(2026, 11, 7, 9, 0);
    assert.equal((await mirror.app.watch.scheduler.runNow(entry)).result, 'ok');
    assert.deepEqual([...mirror.app.watch.retained()], [v1]);
    const v2 = await release('v2.0.0');
    now += hour;
    const run = await mirror.app.watch.scheduler.runNow(entry);
    assert.equal(run.result, 'ok', run.message);
    assert.deepEqual([...mirror.app.watch.retained()], [v2], 'v1.0.0 is no longer among the newest 1');
    assert.deepEqual(mirror.app.watch.state.tags(entry).map((t) => t.tag), ['v2.0.0']);
  });
});
