// A fill that fails (its first upstream body is corrupt) while a request for the same blob arrives as it fails,
// before it has cleaned up (src/mirror/fills.ts): the fresh fill must get its bytes from the upstream at once, not
// after following its own process's failed fill (a wait of the whole headers timeout). Shared by the tests of each
// kind of fill lease (a worker's, a bucket's, radosgw's).
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import type { DiskTempFiles } from '../../src/cache/temp-files.js';
import type { ClusterFillSource } from '../../src/mirror/cluster-fill-source.js';
import type { FillSource, InflightFill } from '../../src/mirror/fills.js';
import { Fills } from '../../src/mirror/fills.js';
import type { Digest } from '../../src/registry/digest.js';
import { TransientChunks } from './fake/transient-body.js';

export interface FailedThenFresh {
  /** The fills to build the cluster with; `use` then names the cluster's fill source. */
  fills: Fills;
  use(source: ClusterFillSource): void;
  /** Runs the failing fill and asserts the fresh one fetched within half of `headersMs`. */
  check(headersMs: number): Promise<void>;
}

export function failedThenFresh(temp: DiskTempFiles): FailedThenFresh {
  const bytes = randomBytes(2 * 1024 * 1024);
  const digest = `sha256:${createHash('sha256').update(bytes).digest('hex')}` as Digest;
  const corrupt = Buffer.from(bytes);
  corrupt[corrupt.length - 1]! ^= 1;
  const upstream: Buffer[] = [corrupt, bytes];
  const fromUpstream = async (): Promise<FillSource> => {
    const data = upstream.shift()!;
    return { size: data.length, body: new TransientChunks(data), commit: async () => undefined };
  };
  let source: ClusterFillSource | undefined;
  let fresh: { entry: InflightFill; at: number } | undefined;
  const open = () => source!.open(digest, { upstream: 'hub', repository: 'library/alpine' }, fromUpstream, async () => undefined);
  // Told as the fill fails, before it has cleaned up: a request arriving now.
  const fills: Fills = new Fills(() => temp.create(), 10_000, () => {
    fresh ??= { entry: fills.start(digest, open), at: Date.now() };
  });
  return {
    fills,
    use: (s) => void (source = s),
    check: async (headersMs) => {
      const failing = await fills.start(digest, open).fill;
      await failing.finished;
      assert.equal(failing.state, 'failed');
      assert.ok(fresh, 'a fresh fill was started');
      const good = await fresh.entry.fill;
      const waited = Date.now() - fresh.at;
      assert.ok(waited < headersMs / 2, `the fresh fill had its bytes' source after ${waited} ms`);
      await good.finished;
      assert.equal(good.state, 'done', String(good.error));
      assert.equal(upstream.length, 0, 'the fresh fill fetched from upstream');
    },
  };
}
