// Fills that read their upstream straight from the socket (docs/architecture.md, "Decision: blobs stream, verify,
// then commit") against an upstream that breaks every way it can: each failure ends with every connection closed
// (counted in /proc/self/fd: the fake upstream runs in this process, so a socket left open on either side shows)
// and no fill left running; a body that is right after all arrives byte-exact.
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { readdir } from 'node:fs/promises';
import { after, before, describe, test } from 'node:test';
import { request } from 'undici';
import { FakeUpstream, type Faults } from '../support/fake/fake-upstream.js';
import { startMirror, type TestMirror } from '../support/mirror-app.js';

const timers = (): number => process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;
const fds = async (): Promise<number> => (await readdir('/proc/self/fd')).length;

describe('direct fills against a breaking upstream', () => {
  let up: FakeUpstream;
  let mirror: TestMirror;

  before(async () => {
    up = await new FakeUpstream({ auth: true }).start();
    mirror = await startMirror({
      upstreams: [
        {
          name: 'hub',
          registry: 'docker.io',
          url: up.url,
          default: true,
          retries: { attempts: 2, minDelay: '10ms', maxDelay: '20ms' },
          segments: { resumes: 1, stallTimeout: '300ms' },
        },
      ],
      // Long: a connection the fill gives up must be closed by the fill, not by this timer.
      timeouts: { idle: '30s' },
    });
  });
  after(async () => {
    await mirror.close();
    await up.stop();
  });

  async function pull(digest: string): Promise<{ status: number; digest: string }> {
    const res = await request(`${mirror.url}/v2/library/alpine/blobs/${digest}`, { bodyTimeout: 10_000 });
    const hash = createHash('sha256');
    try {
      for await (const chunk of res.body) hash.update(chunk as Buffer);
    } catch {
      return { status: res.statusCode, digest: 'broken' };
    }
    return { status: res.statusCode, digest: `sha256:${hash.digest('hex')}` };
  }

  async function settled(): Promise<void> {
    for (let i = 0; i < 500 && mirror.app.services.fills.size > 0; i++) await new Promise((r) => setTimeout(r, 10));
    assert.equal(mirror.app.services.fills.size, 0, 'no fill left running');
    await new Promise((r) => setTimeout(r, 200));
  }

  const size = 3 * 1024 * 1024 + 5;
  const cases: Array<[string, Faults, boolean]> = [
    ['a body cut at 1 MiB, again on the resume', { truncateBlobAt: 1024 * 1024 }, false],
    ['a corrupt byte', { corruptBlob: true }, false],
    ['a TCP reset at 1 MiB, once (resumed)', { resetBlobAt: 1024 * 1024, resetBlobTimes: 1 }, true],
    ['a TCP reset at 1 MiB, every time', { resetBlobAt: 1024 * 1024 }, false],
    ['a stall at 1 MiB', { stallBlobAt: 1024 * 1024 }, false],
    ['a Content-Length 10 bytes short', { contentLengthDelta: -10 }, false],
    ['a Content-Length 10 bytes long', { contentLengthDelta: 10 }, false],
    ['a slow body through the CDN', { blobChunkDelayMs: 2, redirectBlobs: 'absolute' }, true],
    ['a 503', { serverError: 503 }, false],
  ];

  test('every failure closes every connection and stops every timer; what is right arrives byte-exact', async () => {
    // Warm: the token and the first connections of the mirror's dispatchers are made once, and the direct reads'
    // kept-alive connections to the registry and to the CDN (a kept connection is no leak; a second one would be).
    for (const faults of [{}, { redirectBlobs: 'absolute' }] as Faults[]) {
      up.faults = faults;
      const warm = up.addBlob(randomBytes(1000));
      assert.equal((await pull(warm)).digest, warm);
      await settled();
    }
    up.faults = {};
    const before = await fds();
    const timersBefore = timers();
    for (const [what, faults, ok] of cases) {
      up.faults = faults;
      const blob = randomBytes(size);
      const digest = up.addBlob(blob);
      const got = await pull(digest);
      up.faults = {};
      if (ok) assert.deepEqual(got, { status: 200, digest }, what);
      else assert.notEqual(got.digest, digest, what);
      await settled();
      assert.ok((await fds()) <= before, `${what}: ${await fds()} descriptors open, ${before} before`);
      assert.ok(timers() <= timersBefore, `${what}: ${timers()} timers, ${timersBefore} before`);
    }
  });
});
