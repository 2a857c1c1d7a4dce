// A passthrough pipe with no bytes either way for the idle timeout is closed, like the mirror's own client
// connections (access.clientIdleTimeout): a client that opens a connection and goes quiet cannot hold a socket and
// a backend connection forever. Bytes in either direction keep it open.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer, connect, type AddressInfo, type Server, type Socket } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { pipeToBackend, type PipeResult } from '../../../src/server/tls-passthrough.js';

async function listening(server: Server): Promise<number> {
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return (server.address() as AddressInfo).port;
}

describe('passthrough pipes time out when idle', () => {
  let backendPort = 0;
  let frontPort = 0;
  /** What the backend does with each connection. */
  let onBackend: (s: Socket) => void = () => undefined;
  const backend = createServer({ allowHalfOpen: true }, (s) => {
    s.on('error', () => undefined);
    onBackend(s);
  });
  const accepted: Socket[] = [];
  const front = createServer({ allowHalfOpen: true }, (s) => void accepted.push(s));
  before(async () => {
    backendPort = await listening(backend);
    frontPort = await listening(front);
  });
  after(async () => {
    backend.close();
    front.close();
  });

  /** A client connection whose server side is piped to the backend; resolves with how the pipe closed. */
  async function pipe(idleTimeoutMs: number): Promise<{ client: Socket; closed: Promise<PipeResult & { afterMs: number }> }> {
    const client = connect(frontPort, '127.0.0.1');
    client.on('error', () => undefined);
    await once(client, 'connect');
    while (accepted.length === 0) await new Promise((r) => setImmediate(r));
    const socket = accepted.shift()!;
    const started = Date.now();
    const closed = new Promise<PipeResult & { afterMs: number }>((resolve) => {
      pipeToBackend(socket, Buffer.from('hello'), { host: '127.0.0.1', port: backendPort }, {
        connectTimeoutMs: 5_000,
        idleTimeoutMs,
        clock: Date.now,
        onClose: (r) => resolve({ ...r, afterMs: Date.now() - started }),
      });
    });
    return { client, closed };
  }

  it('a pipe where nobody sends anything is closed after the idle timeout', async () => {
    onBackend = () => undefined; // accepts, reads, never answers
    const { client, closed } = await pipe(300);
    const r = await Promise.race([closed, new Promise<undefined>((resolve) => setTimeout(resolve, 3_000))]);
    assert.ok(r, 'the pipe was closed');
    assert.equal(r.reason, 'idle-timeout');
    assert.ok(r.afterMs >= 250, `closed after ${r.afterMs} ms`);
    client.destroy();
  });

  it('a backend that keeps sending keeps the pipe open; silence then closes it', async () => {
    onBackend = (s) => {
      let n = 0;
      const t = setInterval(() => (n++ < 8 ? s.write('tick') : clearInterval(t)), 100);
      s.on('close', () => clearInterval(t));
    };
    const { client, closed } = await pipe(300);
    let got = 0;
    client.on('data', (d: Buffer) => (got += d.length));
    const r = await closed;
    assert.equal(r.reason, 'idle-timeout');
    assert.ok(r.afterMs >= 800, `stayed open while bytes flowed (closed after ${r.afterMs} ms)`);
    assert.equal(got, 8 * 4);
    client.destroy();
  });

  it('a client that keeps sending keeps the pipe open', async () => {
    onBackend = (s) => s.resume();
    const { client, closed } = await pipe(300);
    let n = 0;
    const t = setInterval(() => (n++ < 8 ? client.write('tock') : clearInterval(t)), 100);
    const r = await closed;
    clearInterval(t);
    assert.equal(r.reason, 'idle-timeout');
    assert.ok(r.afterMs >= 800, `closed after ${r.afterMs} ms`);
    client.destroy();
  });
});
