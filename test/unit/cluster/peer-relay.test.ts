// A worker passing another worker's fill on to a replica (peer-server.ts, relay; docs/workers.md, "Workers of a
// replica"), over real sockets: the holder is written byte for byte, the relaying endpoint follows it with a peer
// client, and the replica reads the relayed answer with its own. The relay never ends short bytes cleanly, cuts the
// holder's surplus, and lets go of the holder when the replica goes away.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import type { Socket } from 'node:net';
import { after, before, beforeEach, describe, it } from 'node:test';
import pino from 'pino';
import { PeerAuth } from '../../../src/cluster/peer-auth.js';
import { PeerClient } from '../../../src/cluster/peer-client.js';
import { PeerServer } from '../../../src/cluster/peer-server.js';
import { parseDigest } from '../../../src/registry/digest.js';
import { startScriptedServer, type ScriptedServer } from '../../support/scripted-http-server.js';
import { readPeerAnswer } from '../../support/peer-answer.js';

const secret = 's'.repeat(64);
const digest = parseDigest(`sha256:${'a'.repeat(64)}`);
const head = (length: number): string => `HTTP/1.1 200 X\r\ncontent-length: ${length}\r\n\r\n`;

describe("a worker relaying another worker's fill", () => {
  let holder: ScriptedServer;
  let relaying: PeerServer;
  let relayingOwner = '';
  let toHolder: PeerClient;
  const holderSockets: Socket[] = [];
  before(async () => {
    holder = await startScriptedServer({}, () => undefined);
    // A short idle time: the relay's backpressure must not count as a stalled holder.
    toHolder = new PeerClient({ auth: new PeerAuth(secret, 'http://relaying.invalid'), connectMs: 2000, headersMs: 2000, idleMs: 500 });
    let auth: PeerAuth | undefined;
    relaying = new PeerServer({
      fills: { get: () => undefined },
      auth: { verify: (...a) => auth?.verify(...a) ?? false },
      log: pino({ level: 'silent' }),
      relay: (d) => toHolder.follow(`http://127.0.0.1:${holder.port}`, d),
    });
    const bound = await relaying.listen('127.0.0.1:0');
    relayingOwner = `http://127.0.0.1:${bound.port}`;
    auth = new PeerAuth(secret, relayingOwner);
  });
  beforeEach(() => (holderSockets.length = 0));
  after(async () => {
    await relaying.close();
    await toHolder.close();
    await holder.close();
  });
  const replica = () => new PeerClient({ auth: new PeerAuth(secret, 'http://replica.invalid'), connectMs: 2000, headersMs: 2000, idleMs: 2000 });

  it('every byte of a whole answer, in order', async () => {
    const body = Buffer.alloc(1024 * 1024, 5);
    holder.script = ({ socket }) => socket.write(Buffer.concat([Buffer.from(head(body.length)), body]));
    const peers = replica();
    const answer = await peers.follow(relayingOwner, digest);
    const { bytes, error } = await readPeerAnswer(answer);
    assert.equal(error, undefined);
    assert.ok(bytes.equals(body));
    await peers.close();
  });

  it('a replica paused longer than the idle time holds the relay back without cutting it', async () => {
    const body = Buffer.alloc(16 * 1024 * 1024, 6);
    holder.script = ({ socket }) => socket.write(Buffer.concat([Buffer.from(head(body.length)), body]));
    const peers = replica();
    const { bytes, error } = await readPeerAnswer(await peers.follow(relayingOwner, digest), 1500);
    assert.equal(error, undefined);
    assert.ok(bytes.equals(body));
    await peers.close();
  });

  it("the holder stalling mid-body reaches the replica as an error", async () => {
    holder.script = ({ socket }) => socket.write(head(10) + 'hello');
    const peers = replica();
    const { error } = await readPeerAnswer(await peers.follow(relayingOwner, digest));
    assert.ok(error);
    await peers.close();
  });

  it("the holder's answer cut short reaches the replica as an error, never as a clean end", async () => {
    holder.script = ({ socket }) => {
      socket.write(head(200_000) + 'x'.repeat(100_000));
      setTimeout(() => socket.destroy(), 50);
    };
    const peers = replica();
    const { bytes, error } = await readPeerAnswer(await peers.follow(relayingOwner, digest));
    assert.ok(error, `${bytes.length} bytes, ended cleanly`);
    await peers.close();
  });

  it("the holder's bytes beyond its Content-Length are not passed on", async () => {
    holder.script = ({ socket }) => socket.write(head(5) + 'helloEXTRA');
    const peers = replica();
    const { bytes, error } = await readPeerAnswer(await peers.follow(relayingOwner, digest));
    assert.equal(error, undefined);
    assert.equal(bytes.toString(), 'hello');
    await peers.close();
  });

  it('the replica going away lets go of the holder', async () => {
    holder.script = ({ socket }) => {
      holderSockets.push(socket);
      socket.write(head(10_000_000) + 'x'.repeat(1000));
    };
    const peers = replica();
    const answer = await peers.follow(relayingOwner, digest);
    assert.equal(answer.kind, 'streaming');
    if (answer.kind === 'streaming') answer.body.destroy();
    const [socket] = holderSockets;
    assert.ok(socket);
    if (!socket.closed) await once(socket, 'close');
    await peers.close();
  });
});
