// A fill following another process's fill (cluster-fills.ts, the real peer client over a loopback socket) when the
// holder misbehaves: bytes cut short, stalled, a byte changed, a length that is not the blob's, or pipelined garbage
// past the end. The follower's fill fails (its readers get an error, never a clean end) and commits nothing; a
// well-behaved holder's fill is committed once (docs/storage.md, "One fetch per cluster").
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import type { Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import pino from 'pino';
import { ClusterFills } from '../../../src/cluster/cluster-fills.js';
import type { LeaseStore } from '../../../src/cluster/leases.js';
import { PeerAuth } from '../../../src/cluster/peer-auth.js';
import { PeerClient } from '../../../src/cluster/peer-client.js';
import type { BlobFill } from '../../../src/mirror/blob-fill.js';
import { Fills, type FillSource } from '../../../src/mirror/fills.js';
import { TransientChunks } from '../../support/fake/transient-body.js';
import type { Digest } from '../../../src/registry/digest.js';
import { startScriptedServer, type ScriptedServer } from '../../support/scripted-http-server.js';

const blob = randomBytes(3 * 1024 * 1024 + 17);
const digest = `sha256:${createHash('sha256').update(blob).digest('hex')}` as Digest;
const headOf = (length: number): Buffer => Buffer.from(`HTTP/1.1 200 X\r\ncontent-length: ${length}\r\n\r\n`);

/** Reads a fill's whole reader: its bytes, and whether it ended cleanly. */
function readAll(fill: BlobFill): Promise<{ bytes: number; error?: Error }> {
  const reader = fill.reader({ start: 0, end: fill.size - 1 });
  assert.ok(reader);
  let bytes = 0;
  return new Promise((resolve) => {
    reader.on('data', (c: Buffer) => (bytes += c.length));
    reader.on('end', () => resolve({ bytes }));
    reader.on('error', (error) => resolve({ bytes, error }));
  });
}

describe('a fill following a broken holder', () => {
  let dir: string;
  let holder: ScriptedServer;
  let peers: PeerClient;
  let commits = 0;
  let temps = 0;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'pullgate-follow-broken-'));
    holder = await startScriptedServer({}, () => undefined);
    peers = new PeerClient({ auth: new PeerAuth('s'.repeat(64), 'http://follower.invalid'), connectMs: 2000, headersMs: 2000, idleMs: 1000 });
  });
  after(async () => {
    await peers.close();
    await holder.close();
    await rm(dir, { recursive: true, force: true });
  });

  /** One fill of the blob that lost its lease to the scripted holder. */
  async function follow(fromUpstream: () => Promise<FillSource> = () => assert.fail('fetched upstream')): Promise<BlobFill> {
    const owner = `http://127.0.0.1:${holder.port}`;
    const leases = {
      ttlMs: 100,
      self: { owner: 'http://127.0.0.1:1', replica: 'self' },
      hold: async () => ({ won: false as const, holder: { owner, replica: 'holder', expiresAt: Date.now() + 60_000 } }),
    };
    const cluster = new ClusterFills({ leases: leases as unknown as LeaseStore, peers, stat: async () => undefined, log: pino({ level: 'silent' }) });
    const fills = new Fills(async () => join(dir, `t${temps++}`), 5_000);
    const about = { upstream: 'hub', repository: 'library/x' };
    const entry = fills.start(digest, async () => {
      const source = await cluster.open(digest, about, fromUpstream, async () => undefined);
      return { ...source, commit: async (path: string) => (commits++, source.commit(path)) };
    });
    return entry.fill;
  }

  const cases: Array<[string, (socket: Socket) => void]> = [
    ['cut short', (s) => s.end(Buffer.concat([headOf(blob.length), blob.subarray(0, blob.length - 1000)]))],
    ['stalled before the end', (s) => s.write(Buffer.concat([headOf(blob.length), blob.subarray(0, blob.length - 1)]))],
    ['reset mid-body', (s) => (s.write(Buffer.concat([headOf(blob.length), blob.subarray(0, 100_000)])), setTimeout(() => s.resetAndDestroy(), 30))],
    ['one byte changed', (s) => s.end(Buffer.concat([headOf(blob.length), blob.subarray(0, blob.length - 1), Buffer.from([blob.at(-1)! ^ 1])]))],
    ['a length shorter than the blob', (s) => s.end(Buffer.concat([headOf(blob.length - 1), blob]))],
  ];
  for (const [name, script] of cases) {
    it(`${name}: the fill fails, its reader gets an error, nothing is committed`, async () => {
      holder.script = ({ socket }) => script(socket);
      const before = commits;
      const fill = await follow();
      const read = await readAll(fill);
      await fill.finished;
      assert.equal(fill.state, 'failed');
      assert.ok(read.error, `${read.bytes} bytes read and a clean end`);
      assert.equal(commits, before);
    });
  }

  it('the whole blob with garbage pipelined after it: every byte, committed once', async () => {
    holder.script = ({ socket }) => socket.write(Buffer.concat([headOf(blob.length), blob, Buffer.from('HTTP/1.1 200 X\r\ncontent-length: 3\r\n\r\nbad')]));
    const before = commits;
    const fill = await follow();
    const read = await readAll(fill);
    await fill.finished;
    assert.equal(read.error, undefined);
    assert.equal(read.bytes, blob.length);
    assert.equal(fill.state, 'done', String(fill.error));
    assert.equal(commits - before, 1);
  });

  it('a holder answering garbage heads is given up on after its lease time: the fill fetches from upstream', async () => {
    holder.script = ({ socket }) => socket.end('HTTP/1.1 200 X\r\ncontent-length: 5\r\ntransfer-encoding: chunked\r\n\r\n');
    let upstream = 0;
    const fill = await follow(async () => (upstream++, { size: blob.length, body: new TransientChunks(blob), commit: async () => undefined }));
    const read = await readAll(fill);
    await fill.finished;
    assert.equal(upstream, 1);
    assert.equal(read.bytes, blob.length);
    assert.equal(fill.state, 'done', String(fill.error));
  });
});
