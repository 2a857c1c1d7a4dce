// A failed fill takes no new followers (src/mirror/fills.ts): a request that arrives while it cleans up (its temp
// file being unlinked, its last followers being told) starts a fresh fill instead of getting the failed one's error,
// and the failed fill's end leaves the fresh fill registered.
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import type { Digest } from '../../../src/registry/digest.js';
import type { BlobFill } from '../../../src/mirror/blob-fill.js';
import { Fills, type FillSource, type InflightFill } from '../../../src/mirror/fills.js';
import { TransientChunks } from '../../support/fake/transient-body.js';

test('a request arriving while a failed fill cleans up starts a fresh fill, which stays registered after the failed one ends', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'pullgate-fills-'));
  const bytes = randomBytes(1024 * 1024);
  const digest = `sha256:${createHash('sha256').update(bytes).digest('hex')}` as Digest;
  const source = (data: Buffer): FillSource => ({ size: data.length, body: new TransientChunks(data), commit: async () => undefined });
  let temps = 0;
  let seenWhileFailing: InflightFill | undefined | 'not called';
  seenWhileFailing = 'not called';
  let fresh: InflightFill | undefined;
  const fills: Fills = new Fills(
    async () => join(dir, `t${temps++}`),
    10_000,
    // Told as the fill fails, before it has cleaned up: a request arriving now.
    () => {
      seenWhileFailing = fills.get(digest);
      fresh = fills.start(digest, async () => source(bytes));
    },
  );
  try {
    const corrupt = Buffer.from(bytes);
    corrupt[0]! ^= 1;
    const failing: BlobFill = await fills.start(digest, async () => source(corrupt)).fill;
    await failing.finished;
    assert.equal(failing.state, 'failed');
    assert.equal(seenWhileFailing, undefined, 'the failed fill was still handed out');
    assert.ok(fresh, 'a fresh fill was started');
    assert.equal(fills.get(digest), fresh, 'the fresh fill is registered after the failed one ended');
    const good = await fresh.fill;
    await good.finished;
    assert.equal(good.state, 'done', String(good.error));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
