// The client side of the internal endpoint against a real socket: a fill in flight is read as transient chunks (views
// of one reused read buffer, copied by the following fill into its own batches), never as a buffer per socket read;
// each other answer is told apart (not running, a refusal with its reason, no length, nobody listening), and kept
// connections carry the next follow.
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { PeerAuth, peerAuthHeader } from '../../../src/cluster/peer-auth.js';
import { PeerClient } from '../../../src/cluster/peer-client.js';
import { parseDigest } from '../../../src/registry/digest.js';
import { hasTransientChunks } from '../../../src/upstream/chunk-source.js';

const secret = 's'.repeat(64);
const digestOf = (c: string) => parseDigest(`sha256:${c.repeat(64)}`);
/** 3 MiB: many socket reads. */
const body = Buffer.alloc(3 * 1024 * 1024, 7);

describe('the peer client', () => {
  let server: Server;
  let owner = '';
  let connections = 0;
  const seenAuth: string[] = [];
  before(async () => {
    server = createServer((req, res) => {
      seenAuth.push(String(req.headers[peerAuthHeader]));
      const name = req.url?.split('/').pop() ?? '';
      if (name.endsWith('a'.repeat(64))) {
        res.writeHead(200, { 'content-length': String(body.length) });
        res.end(body);
      } else if (name.endsWith('b'.repeat(64))) {
        res.writeHead(404, { 'content-type': 'application/json', 'content-length': '2' });
        res.end('{}');
      } else if (name.endsWith('c'.repeat(64))) {
        const text = JSON.stringify({ errors: [{ code: 'FILL_HOLDER_UNREACHABLE', message: 'the worker holding it does not answer' }] });
        res.writeHead(503, { 'content-type': 'application/json', 'content-length': String(text.length) });
        res.end(text);
      } else {
        // No Content-Length: chunked.
        res.writeHead(200);
        res.end('x');
      }
    });
    server.on('connection', () => connections++);
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    owner = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(() => new Promise<void>((r) => (server.closeAllConnections(), server.close(() => r()))));

  const client = () => new PeerClient({ auth: new PeerAuth(secret, 'http://follower.invalid'), connectMs: 2000, headersMs: 2000, idleMs: 2000 });

  it('a fill in flight is read as transient chunks of one reused buffer, every byte in order, the request signed', async () => {
    const peers = client();
    const answer = await peers.follow(owner, digestOf('a'));
    assert.equal(answer.kind, 'streaming');
    if (answer.kind !== 'streaming') return;
    assert.equal(answer.size, body.length);
    assert.ok(hasTransientChunks(answer.body), 'the body hands over transient chunks');
    const source = answer.body.chunks();
    assert.ok(source, 'nothing was read through the Readable side');
    const arrays = new Set<ArrayBufferLike>();
    let reads = 0;
    const copy = Buffer.alloc(body.length);
    let at = 0;
    await new Promise<void>((resolve, reject) =>
      source.deliver(
        (chunk) => {
          reads++;
          arrays.add(chunk.buffer);
          at += chunk.copy(copy, at);
        },
        (err) => (err ? reject(err) : resolve()),
      ),
    );
    assert.equal(at, body.length);
    assert.ok(copy.equals(body), 'the bytes as sent');
    assert.ok(reads > 8, `${reads} reads`);
    // The head's read is a copy of its own; every later read is a view of the connection's one read buffer.
    assert.ok(arrays.size <= 2, `${arrays.size} distinct buffers for ${reads} reads`);
    assert.ok(new PeerAuth(secret, owner).verify('GET', `/fills/${digestOf('a')}`, seenAuth.at(-1)), 'signed for this owner and path');
    await peers.close();
  });

  it('a kept connection carries the next follow', async () => {
    const peers = client();
    const before = connections;
    for (let i = 0; i < 3; i++) {
      const answer = await peers.follow(owner, digestOf('b'));
      assert.equal(answer.kind, 'not-running');
    }
    assert.equal(connections - before, 1, 'one connection for three follows');
    await peers.close();
  });

  it('a refusal is unreachable with its status and the start of its body; an answer without a length is unreachable', async () => {
    const peers = client();
    const refused = await peers.follow(owner, digestOf('c'));
    assert.equal(refused.kind, 'unreachable');
    if (refused.kind === 'unreachable') assert.match(refused.reason, /^peer answered 503: .*FILL_HOLDER_UNREACHABLE/);
    const chunked = await peers.follow(owner, digestOf('d'));
    assert.equal(chunked.kind, 'unreachable');
    if (chunked.kind === 'unreachable') assert.match(chunked.reason, /peer answered 200 without a length/);
    await peers.close();
  });

  it('nobody listening is unreachable, not an error', async () => {
    const closed = createServer();
    await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
    const port = (closed.address() as AddressInfo).port;
    await new Promise<void>((r) => closed.close(() => r()));
    const peers = client();
    const answer = await peers.follow(`http://127.0.0.1:${port}`, digestOf('a'));
    assert.equal(answer.kind, 'unreachable');
    await peers.close();
  });
});
