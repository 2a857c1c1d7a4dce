// Followers of a fill in progress at its edge (src/server/send-file.ts, src/mirror/blob-fill.ts lendRecent): they
// write the fill's own batches to their clients without a copy or a send buffer of their own, a batch buffer lent
// out goes back to the fill's pool only once every write of it is done (after a whole transfer and after a client
// that left), and the process lends at most a fixed number of batch buffers however many followers there are
// (src/mirror/batch-buffers.ts; docs/architecture.md, "Decision: memory is flat in clients and blob size").
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, get, type Server, type ServerResponse } from 'node:http';
import { createConnection, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Digest } from '../../../src/registry/digest.js';
import { BatchBufferPool, batchBuffers, lentBuffers, maxLentBuffers, SharedBatchBuffer } from '../../../src/mirror/batch-buffers.js';
import { BlobFill } from '../../../src/mirror/blob-fill.js';
import { sendFileBody, sendPools } from '../../../src/server/send-file.js';
import { TransientChunks } from '../../support/fake/transient-body.js';

const MiB = 1024 * 1024;
const sha = (b: Buffer) => `sha256:${createHash('sha256').update(b).digest('hex')}` as Digest;
let dir: string;

before(async () => void (dir = await mkdtemp(join(tmpdir(), 'pullgate-lend-'))));
after(() => rm(dir, { recursive: true, force: true }));

/** A server whose every request follows `fill` from its first byte; each outcome goes to `outcomes`. */
async function followers(fill: BlobFill, outcomes: Promise<Error | undefined>[]): Promise<{ server: Server; port: number }> {
  const server = createServer((_req, res: ServerResponse) => {
    const reader = fill.reader({ start: 0, end: fill.size - 1 })!;
    res.setHeader('content-length', fill.size);
    outcomes.push(new Promise((resolve) => sendFileBody(res, reader, (err) => resolve(err))));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, port: (server.address() as AddressInfo).port };
}

async function until(check: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 500 && !check(); i++) await sleep(10);
  assert.ok(check(), what);
}

test('a batch buffer is lent to responses up to a fixed number of buffers at once, and counted once however many responses share it', () => {
  const pool = new BatchBufferPool(64, 4);
  const shared = Array.from({ length: maxLentBuffers + 1 }, () => new SharedBatchBuffer(1000, pool));
  const before = lentBuffers.held;
  for (const s of shared.slice(0, maxLentBuffers - before)) assert.equal(s.lend(), true);
  assert.equal(shared[0]!.lend(), true, 'a buffer already lent is lent again');
  assert.equal(lentBuffers.held, maxLentBuffers);
  assert.equal(shared[maxLentBuffers]!.lend(), false, 'past the bound a response copies instead');
  shared[0]!.giveBackLent();
  shared[0]!.giveBackLent();
  assert.equal(lentBuffers.held, maxLentBuffers - 1);
  for (const s of shared.slice(1, maxLentBuffers - before)) s.giveBackLent();
  assert.equal(lentBuffers.held, before);
});

test('16 clients following one fill, half of them stopping a while, get exact bytes written from its batches: lent buffers within the bound, none reused while a socket refers to it, every one given back', async () => {
  const bytes = randomBytes(24 * MiB + 11);
  const giveBack = batchBuffers.giveBack.bind(batchBuffers);
  // A buffer given back while a socket still refers to it would send garbage.
  batchBuffers.giveBack = (buffer: Buffer) => {
    buffer.fill(0xee);
    giveBack(buffer);
  };
  const outcomes: Promise<Error | undefined>[] = [];
  // Held until every client follows, so that they keep up with the fill's edge.
  const source = new TransientChunks(bytes, { chunkBytes: 64 * 1024 });
  source.pause();
  const fill = new BlobFill(sha(bytes), bytes.length, join(dir, 'a.part'), source, async () => undefined, 10_000);
  const { server, port } = await followers(fill, outcomes);
  let lends = 0;
  let maxLent = 0;
  const lend = SharedBatchBuffer.prototype.lend;
  SharedBatchBuffer.prototype.lend = function (this: SharedBatchBuffer): boolean {
    const ok = lend.call(this);
    if (ok) lends++;
    maxLent = Math.max(maxLent, lentBuffers.held);
    return ok;
  };
  // Half the clients stop reading for a while after their first bytes: their writes of lent bytes stay queued while
  // the fill moves on and its batches leave the in-memory window.
  const pull = (_: unknown, i: number): Promise<Buffer> =>
    new Promise((resolve, reject) => {
      get(`http://127.0.0.1:${port}/`, { agent: false }, (res) => {
        const parts: Buffer[] = [];
        if (i % 2 === 1) res.once('data', () => (res.pause(), setTimeout(() => res.resume(), 300)));
        res.on('data', (c: Buffer) => parts.push(c));
        res.on('end', () => resolve(Buffer.concat(parts)));
        res.on('error', reject);
      }).on('error', reject);
    });
  try {
    const pulls = Array.from({ length: 16 }, pull);
    await until(() => outcomes.length === 16, 'every client follows the fill');
    source.resume();
    const bodies = await Promise.all(pulls);
    for (const body of bodies) assert.ok(body.equals(bytes), 'exact bytes');
    for (const err of await Promise.all(outcomes)) assert.equal(err, undefined);
    await fill.finished;
    assert.equal(fill.state, 'done', String(fill.error));
  } finally {
    SharedBatchBuffer.prototype.lend = lend;
    batchBuffers.giveBack = giveBack;
    server.close();
  }
  assert.ok(lends > 8 * 24, `${lends} writes of lent bytes`);
  assert.ok(maxLent <= maxLentBuffers, `${maxLent} buffers lent at once, bound ${maxLentBuffers}`);
  await until(() => lentBuffers.held === 0, `${lentBuffers.held} buffers still lent`);
  await until(() => sendPools.large.lent + sendPools.small.lent === 0, 'send buffers still lent');
});

test('clients that stop reading and leave while writes of lent bytes are queued: every lent buffer is given back', async () => {
  const bytes = randomBytes(16 * MiB);
  // The fill stops halfway and stays open: its followers sit at its edge with writes queued on full sockets.
  const source = new TransientChunks(bytes, { chunkBytes: 64 * 1024, stallAt: 12 * MiB });
  const fill = new BlobFill(sha(bytes), bytes.length, join(dir, 'b.part'), source, async () => undefined, 60_000);
  const outcomes: Promise<Error | undefined>[] = [];
  const { server, port } = await followers(fill, outcomes);
  const sockets = Array.from({ length: 8 }, () => {
    const socket = createConnection(port, '127.0.0.1');
    socket.on('error', () => undefined);
    socket.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n');
    socket.pause();
    return socket;
  });
  try {
    await until(() => fill.received >= 12 * MiB && outcomes.length === sockets.length, 'the fill reached its stall');
    await until(() => lentBuffers.held > 0, 'writes of lent bytes are queued');
    for (const socket of sockets) socket.destroy();
    for (const err of await Promise.all(outcomes)) assert.ok(err instanceof Error);
    await until(() => lentBuffers.held === 0, `${lentBuffers.held} buffers still lent after the clients left`);
  } finally {
    for (const socket of sockets) socket.destroy();
    fill.abort(new Error('test over'));
    await fill.finished;
    server.close();
  }
});
