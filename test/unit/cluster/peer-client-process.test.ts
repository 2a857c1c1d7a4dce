// The peer client in a process of its own (src/cluster/peer-client.ts): an https holder (cluster.advertise) is
// trusted through Node's roots and NODE_EXTRA_CA_CERTS, nothing else; and once closed at shutdown, no socket or
// timer of the client keeps the process alive, even with the holder keeping its connections open.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import type { Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { PeerAuth } from '../../../src/cluster/peer-auth.js';
import { PeerClient } from '../../../src/cluster/peer-client.js';
import { parseDigest } from '../../../src/registry/digest.js';
import { chunkSourceOf } from '../../../src/upstream/chunk-source.js';
import { createTestCa, type TestCa } from '../../support/pki.js';
import { startScriptedServer, type ScriptedServer } from '../../support/scripted-http-server.js';

const digest = `sha256:${'a'.repeat(64)}`;
const module = (path: string) => JSON.stringify(fileURLToPath(new URL(path, import.meta.url)));

/** Follows `owner` twice from a child process, reads the answers, closes the client and returns without exiting. */
const followScript = (owner: string) => `
const { PeerClient } = await import(${module('../../../src/cluster/peer-client.ts')});
const { PeerAuth } = await import(${module('../../../src/cluster/peer-auth.ts')});
const { chunkSourceOf } = await import(${module('../../../src/upstream/chunk-source.ts')});
const peers = new PeerClient({ auth: new PeerAuth('s'.repeat(64), 'http://follower.invalid'), connectMs: 2000, headersMs: 60000, idleMs: 60000 });
const results = [];
for (let i = 0; i < 2; i++) {
  const answer = await peers.follow(${JSON.stringify(owner)}, ${JSON.stringify(digest)});
  if (answer.kind !== 'streaming') { results.push(answer.kind + ': ' + (answer.reason ?? '')); continue; }
  const parts = [];
  results.push(await new Promise((resolve) => chunkSourceOf(answer.body).deliver((c) => parts.push(Buffer.from(c)), (err) => resolve(err ? 'error' : Buffer.concat(parts).toString()))));
}
await peers.close();
console.log(JSON.stringify(results));
`;

async function run(script: string, env: NodeJS.ProcessEnv): Promise<{ out: string; ms: number; code: number | null }> {
  const started = performance.now();
  const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'inherit'], env });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  const killer = setTimeout(() => child.kill('SIGKILL'), 20_000);
  const [code] = (await once(child, 'exit')) as [number | null];
  clearTimeout(killer);
  return { out: out.trim(), ms: performance.now() - started, code };
}

describe('the peer client in a process of its own', () => {
  let dir: string;
  let ca: TestCa;
  let server: ScriptedServer;
  const open: Socket[] = [];
  const env = { ...process.env };
  delete env.NODE_EXTRA_CA_CERTS;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'pullgate-peer-process-'));
    ca = await createTestCa(dir);
    const cert = await ca.issue('localhost', ['localhost'], ['127.0.0.1']);
    // Kept answers; the connection stays open on this side for as long as the client wants it.
    server = await startScriptedServer({ tls: { cert: cert.certPem, key: cert.keyPem } }, ({ socket }) => {
      open.push(socket);
      socket.write('HTTP/1.1 200 X\r\ncontent-length: 5\r\nkeep-alive: timeout=600\r\n\r\nhello');
    });
  });
  after(async () => {
    await server.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('an https holder its roots trust is followed over one kept connection, and the closed client lets the process end', async () => {
    const before = server.connections;
    const { out, ms, code } = await run(followScript(`https://localhost:${server.port}`), { ...env, NODE_EXTRA_CA_CERTS: ca.caCertPath });
    assert.equal(code, 0);
    assert.deepEqual(JSON.parse(out), ['hello', 'hello']);
    assert.equal(server.connections - before, 1, 'one connection for both follows');
    assert.ok(ms < 15_000, `exited after ${Math.round(ms)} ms`);
  });

  it('an https holder its roots do not trust is unreachable', async () => {
    const { out, code } = await run(followScript(`https://localhost:${server.port}`), env);
    assert.equal(code, 0);
    const results = JSON.parse(out) as string[];
    assert.equal(results.length, 2);
    for (const r of results) assert.match(r, /^unreachable: .*certificate/i);
  });

  it('close() closes the kept connections', async () => {
    open.length = 0;
    const peers = new PeerClient({ auth: new PeerAuth('s'.repeat(64), 'http://follower.invalid'), connectMs: 2000, headersMs: 2000, idleMs: 2000 });
    const plain = await startScriptedServer({}, ({ socket }) => {
      open.push(socket);
      socket.write('HTTP/1.1 404 X\r\ncontent-length: 2\r\n\r\n{}');
    });
    assert.equal((await peers.follow(`http://127.0.0.1:${plain.port}`, parseDigest(digest))).kind, 'not-running');
    const [socket] = open;
    assert.ok(socket && !socket.closed);
    await peers.close();
    if (!socket.closed) await once(socket, 'close');
    await plain.close();
  });

  it('close() ends a follow in flight: one waiting for the head is unreachable at once, a body being read ends with an error', async () => {
    const peers = new PeerClient({ auth: new PeerAuth('s'.repeat(64), 'http://follower.invalid'), connectMs: 2000, headersMs: 10_000, idleMs: 10_000 });
    const silent = await startScriptedServer({}, () => undefined);
    const waiting = peers.follow(`http://127.0.0.1:${silent.port}`, parseDigest(digest));
    const midBody = await startScriptedServer({}, ({ socket }) => socket.write('HTTP/1.1 200 X\r\ncontent-length: 10\r\n\r\nhello'));
    const streaming = await peers.follow(`http://127.0.0.1:${midBody.port}`, parseDigest(digest));
    assert.equal(streaming.kind, 'streaming');
    const ended = new Promise<Error | undefined>((resolve) => {
      if (streaming.kind === 'streaming') chunkSourceOf(streaming.body).deliver(() => undefined, resolve);
    });
    await new Promise((r) => setTimeout(r, 100));
    const started = performance.now();
    await peers.close();
    assert.equal((await waiting).kind, 'unreachable');
    assert.ok(await ended, 'the body ended with an error');
    assert.ok(performance.now() - started < 2000, `${Math.round(performance.now() - started)} ms after close()`);
    await Promise.all([silent.close(), midBody.close()]);
  });
});
