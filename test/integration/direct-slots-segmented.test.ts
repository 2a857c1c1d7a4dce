// Segmented fills under the bound on direct reads per origin (docs/segmented-fills.md; docs/operating.md, "Direct
// reads of blob bodies"): a segmented fill holds its own GET's connection while its first Range request says whether
// Range is honoured, so its Range requests must not wait behind a line that only other such fills can free. As many
// segmented fills at once as the bound, on one origin, all complete.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { request } from 'undici';
import { connectionsPerOrigin } from '../../src/upstream/dispatcher.js';
import { FakeUpstream } from '../support/fake/fake-upstream.js';
import { startMirror, type TestMirror } from '../support/mirror-app.js';

async function download(url: string): Promise<{ status: number; body: Buffer }> {
  const res = await request(url);
  const chunks: Buffer[] = [];
  for await (const c of res.body) chunks.push(c as Buffer);
  return { status: res.statusCode, body: Buffer.concat(chunks) };
}

describe('segmented fills of one origin beyond the direct reads bound', () => {
  let up: FakeUpstream;
  let mirror: TestMirror;

  before(async () => {
    up = await new FakeUpstream().start();
    mirror = await startMirror({
      timeouts: { headers: '5s', idle: '3s' },
      cache: { fillIdleTimeout: '3s' },
      upstreams: [
        {
          name: 'hub',
          registry: 'docker.io',
          url: up.url,
          default: true,
          retries: { attempts: 1 },
          segments: { connections: 2, maxConnections: 256, size: '64KiB', threshold: '128KiB', stallTimeout: '15s' },
        },
      ],
    });
  });
  after(async () => {
    await mirror?.close();
    await up?.stop();
  });

  test(`${connectionsPerOrigin + 6} segmented fills at once all complete: none waits for a slot only another waiting fill can free`, { timeout: 60_000 }, async () => {
    const blobs = Array.from({ length: connectionsPerOrigin + 6 }, () => randomBytes(512 * 1024));
    const digests = blobs.map((b) => up.addBlob(b));
    // Every fill's own GET is in flight before the first answer: they take every slot of the origin.
    up.faults.headerDelayMs = 300;
    const results = await Promise.all(digests.map((d) => download(`${mirror.url}/v2/library/alpine/blobs/${d}`).catch((err: Error) => ({ status: 0, body: Buffer.from(err.message) }))));
    const failed = results.map((r, i) => (r.status === 200 && r.body.equals(blobs[i]!) ? undefined : i)).filter((i) => i !== undefined);
    assert.deepEqual(failed, [], `${failed.length} of ${results.length} segmented fills failed`);
    assert.ok(up.requests.some((r) => r.headers.range !== undefined), 'the fills were segmented (Range requests)');
  });
});
