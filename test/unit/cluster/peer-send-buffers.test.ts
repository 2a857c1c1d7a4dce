// A peer's transfer of a fill in flight (peer-server.ts) goes out as a cache hit does (src/server/send-file.ts): a
// body larger than a small send buffer starts with a large one, as its Content-Length says (docs/architecture.md,
// "Memory"), whichever way the endpoint set its headers.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { test } from 'node:test';
import pino from 'pino';
import { request } from 'undici';
import { PeerAuth, peerAuthHeader } from '../../../src/cluster/peer-auth.js';
import { PeerServer } from '../../../src/cluster/peer-server.js';
import { BlobFill } from '../../../src/mirror/blob-fill.js';
import { lentBuffers, maxLentBuffers } from '../../../src/mirror/batch-buffers.js';
import { FillReader } from '../../../src/mirror/fill-reader.js';
import { parseDigest } from '../../../src/registry/digest.js';
import { sendPools } from '../../../src/server/send-file.js';
import { readableChunks } from '../../../src/upstream/chunk-source.js';

const secret = 's'.repeat(64);

test("a peer's transfer of a fill larger than a small send buffer reads into a large one from its first chunk", async () => {
  const dir = await mkdtemp(join(tmpdir(), 'pullgate-peer-buffers-'));
  const bytes = Buffer.alloc(300 * 1024, 7);
  const digest = parseDigest(`sha256:${createHash('sha256').update(bytes).digest('hex')}`);
  const upstream = new PassThrough();
  const fill = new BlobFill(digest, bytes.length, join(dir, 'f.part'), readableChunks(upstream), async () => undefined, 10_000);
  const sizes: number[] = [];
  const readInto = FillReader.prototype.readInto;
  FillReader.prototype.readInto = function (this: FillReader, buffer: Buffer, position: number) {
    sizes.push(buffer.length);
    return readInto.call(this, buffer, position);
  };
  // Every lending slot taken: the transfer copies into send buffers instead of writing the fill's batches.
  const lentBefore = lentBuffers.held;
  lentBuffers.held = maxLentBuffers;
  let auth: PeerAuth | undefined;
  const server = new PeerServer({
    fills: { get: (d) => (d === digest ? { fill: Promise.resolve(fill) } : undefined) },
    auth: { verify: (...a) => auth?.verify(...a) ?? false },
    log: pino({ level: 'silent' }),
  });
  try {
    const bound = await server.listen('127.0.0.1:0');
    const self = `http://127.0.0.1:${bound.port}`;
    auth = new PeerAuth(secret, self);
    upstream.write(bytes.subarray(0, 200 * 1024));
    const path = `/fills/${digest}`;
    const res = await request(`${self}${path}`, { headers: { [peerAuthHeader]: new PeerAuth(secret, 'http://peer.invalid').sign('GET', path, self) } });
    assert.equal(res.statusCode, 200);
    const body = res.body.arrayBuffer();
    upstream.end(bytes.subarray(200 * 1024));
    assert.ok(Buffer.from(await body).equals(bytes));
    await fill.finished;
    assert.equal(fill.state, 'done', String(fill.error));
    assert.ok(sizes.length > 0, 'the transfer read into send buffers');
    assert.equal(sizes[0], sendPools.large.slotBytes, `buffers read into: ${sizes.join(', ')}`);
  } finally {
    lentBuffers.held = lentBefore;
    FillReader.prototype.readInto = readInto;
    await server.close();
    await rm(dir, { recursive: true, force: true });
  }
});
