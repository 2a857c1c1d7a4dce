// The buffers cache hits are written from (src/server/buffer-pool.ts, src/server/send-file.ts): a fixed total
// however many responses run at once, each buffer back in its pool once the socket is done with it, after a
// complete transfer and after one the client aborted, over HTTP/1.1 and HTTP/2.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtemp, open, rm, writeFile } from 'node:fs/promises';
import { createServer, get, type ServerResponse } from 'node:http';
import { connect, constants, createServer as createH2Server } from 'node:http2';
import { createConnection, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { FileBody } from '../../../src/cache/file-body.js';
import { BufferPool } from '../../../src/server/buffer-pool.js';
import { ownBuffers, sendFileBody, sendPools } from '../../../src/server/send-file.js';

let dir: string;
let path: string;
let bigPath: string;
const content = randomBytes(4 * 1024 * 1024 + 777);
/** Larger than what loopback sockets buffer, so a client that stops reading leaves writes queued. */
const bigBytes = 48 * 1024 * 1024;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'send-buffers-'));
  path = join(dir, 'blob');
  await writeFile(path, content);
  bigPath = join(dir, 'big');
  await writeFile(bigPath, Buffer.alloc(bigBytes, 7));
});
after(() => rm(dir, { recursive: true, force: true }));

const lent = (): number => sendPools.small.lent + sendPools.large.lent;
const poolBytes = (): number => sendPools.small.bytes + sendPools.large.bytes;
const budget = sendPools.small.slots * sendPools.small.slotBytes + sendPools.large.slots * sendPools.large.slotBytes;

/** Waits until every buffer is back (the last write callbacks may come a tick after the outcome). */
async function allBack(): Promise<void> {
  for (let i = 0; i < 200 && lent() > 0; i++) await sleep(10);
  assert.equal(lent(), 0, `buffers still lent: small ${sendPools.small.lent}, large ${sendPools.large.lent}`);
}

/** Serves the whole file to every request over `server`'s requests; each outcome goes to `outcomes`. */
function handler(outcomes: Promise<Error | undefined>[], file = path, length = content.length) {
  return (_req: unknown, res: ServerResponse): void => {
    outcomes.push(
      (async () => {
        const body = new FileBody(await open(file, 'r'), 0, undefined);
        res.setHeader('content-length', length);
        return new Promise<Error | undefined>((resolve) => sendFileBody(res, body, (err) => resolve(err)));
      })(),
    );
  };
}

test('a pool lends at most its slots, makes buffers only on need and reuses the ones given back', () => {
  const pool = new BufferPool(1024, 2);
  assert.equal(pool.bytes, 0);
  const a = pool.take();
  const b = pool.take();
  assert.ok(a && b && a !== b && a.length === 1024);
  assert.equal(pool.take(), undefined);
  assert.equal(pool.lent, 2);
  pool.giveBack(a);
  assert.equal(pool.take(), a);
  assert.equal(pool.bytes, 2048);
});

/** A file body that records the size of each buffer it is asked to read into. */
class RecordingBody extends FileBody {
  readonly sizes: number[] = [];
  override readInto(buffer: Buffer, position: number): Promise<number> {
    this.sizes.push(buffer.length);
    return super.readInto(buffer, position);
  }
}

test('a response starts with a small buffer when its Content-Length fits one, with a large one when it does not', async () => {
  const bodies: RecordingBody[] = [];
  const outcomes: Promise<Error | undefined>[] = [];
  const server = createServer((req, res) => {
    const length = req.url === '/small' ? 1000 : content.length;
    outcomes.push(
      (async () => {
        const body = new RecordingBody(await open(path, 'r'), 0, length - 1);
        bodies.push(body);
        res.setHeader('content-length', length);
        return new Promise<Error | undefined>((resolve) => sendFileBody(res, body, (err) => resolve(err)));
      })(),
    );
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const fetchAll = (p: string): Promise<Buffer> =>
    new Promise((resolve, reject) => {
      get(`${url}${p}`, { agent: false }, (res) => {
        const parts: Buffer[] = [];
        res.on('data', (c: Buffer) => parts.push(c));
        res.on('end', () => resolve(Buffer.concat(parts)));
        res.on('error', reject);
      }).on('error', reject);
    });
  try {
    assert.ok((await fetchAll('/small')).equals(content.subarray(0, 1000)));
    assert.ok((await fetchAll('/large')).equals(content));
    for (const err of await Promise.all(outcomes)) assert.equal(err, undefined);
  } finally {
    server.close();
  }
  assert.equal(bodies[0]!.sizes[0], sendPools.small.slotBytes);
  assert.equal(bodies[1]!.sizes[0], sendPools.large.slotBytes);
  assert.ok(bodies[1]!.sizes.every((size) => size === sendPools.large.slotBytes));
  await allBack();
});

test('over HTTP/1.1, 80 clients at once that read slowly: the pools never hold more than their fixed total, every body arrives whole, every buffer comes back', async () => {
  const outcomes: Promise<Error | undefined>[] = [];
  const server = createServer(handler(outcomes));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
  let maxBytes = 0;
  let maxLarge = 0;
  const watch = setInterval(() => ((maxBytes = Math.max(maxBytes, poolBytes())), (maxLarge = Math.max(maxLarge, sendPools.large.lent))), 5);
  const slowRead = (): Promise<Buffer> =>
    new Promise((resolve, reject) => {
      get(url, { agent: false }, (res) => {
        const parts: Buffer[] = [];
        res.pause();
        setTimeout(() => res.resume(), 200);
        res.on('data', (c: Buffer) => parts.push(c));
        res.on('end', () => resolve(Buffer.concat(parts)));
        res.on('error', reject);
      }).on('error', reject);
    });
  try {
    const bodies = await Promise.all(Array.from({ length: 80 }, slowRead));
    for (const body of bodies) assert.ok(body.equals(content));
    for (const err of await Promise.all(outcomes)) assert.equal(err, undefined);
  } finally {
    clearInterval(watch);
    server.close();
  }
  assert.ok(maxLarge > 0, 'large buffers were used');
  assert.ok(maxBytes <= budget, `pools held ${maxBytes} bytes, budget ${budget}`);
  await allBack();
});

test('beyond the pools, a response to a client that stops reading holds one buffer of its own, not two, and lets it go when the client leaves', async () => {
  // Every slot of both pools lent out, as under many concurrent responses.
  const taken: Array<[BufferPool, Buffer]> = [];
  for (const pool of [sendPools.small, sendPools.large]) for (let b = pool.take(); b; b = pool.take()) taken.push([pool, b]);
  const outcomes: Promise<Error | undefined>[] = [];
  const server = createServer(handler(outcomes, bigPath, bigBytes));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const sockets = Array.from({ length: 8 }, () => {
    const socket = createConnection((server.address() as AddressInfo).port, '127.0.0.1');
    socket.on('error', () => undefined);
    socket.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n');
    socket.pause();
    return socket;
  });
  try {
    for (let i = 0; i < 200 && outcomes.length < sockets.length; i++) await sleep(10);
    // Long enough for each response to fill its socket and wait on it with every buffer it takes.
    await sleep(500);
    assert.equal(ownBuffers.held, sockets.length);
    for (const socket of sockets) socket.destroy();
    for (const err of await Promise.all(outcomes)) assert.ok(err instanceof Error);
    for (let i = 0; i < 200 && ownBuffers.held > 0; i++) await sleep(10);
    assert.equal(ownBuffers.held, 0);
  } finally {
    for (const socket of sockets) socket.destroy();
    server.close();
    for (const [pool, buffer] of taken) pool.giveBack(buffer);
  }
  await allBack();
});

test('over HTTP/1.1, clients that leave mid-transfer while writes are queued: every buffer comes back', async () => {
  const outcomes: Promise<Error | undefined>[] = [];
  const server = createServer(handler(outcomes, bigPath, bigBytes));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
  const leave = (): Promise<void> =>
    new Promise((resolve) => {
      const req = get(url, { agent: false }, (res) => {
        // Stop reading so the server's writes queue up behind a full socket, then go away.
        res.once('data', () => {
          res.pause();
          setTimeout(() => (req.destroy(), resolve()), 100);
        });
      });
      req.on('error', () => undefined);
    });
  try {
    await Promise.all(Array.from({ length: 20 }, leave));
    for (const err of await Promise.all(outcomes)) assert.ok(err instanceof Error);
  } finally {
    server.close();
  }
  await allBack();
});

test('over HTTP/2, streams read whole and streams cancelled mid-transfer on one session: every buffer comes back', async () => {
  const outcomes: Promise<Error | undefined>[] = [];
  const server = createH2Server((req, res) => handler(outcomes)(req, res as unknown as ServerResponse));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const session = connect(`http://127.0.0.1:${(server.address() as AddressInfo).port}`);
  const fetchWhole = (): Promise<Buffer> =>
    new Promise((resolve, reject) => {
      const parts: Buffer[] = [];
      const req = session.request({ ':path': '/' });
      req.on('data', (c: Buffer) => parts.push(c));
      req.on('end', () => resolve(Buffer.concat(parts)));
      req.on('error', reject);
    });
  const cancel = (): Promise<void> =>
    new Promise((resolve) => {
      const req = session.request({ ':path': '/' });
      req.once('data', () => {
        req.pause();
        setTimeout(() => req.close(constants.NGHTTP2_CANCEL, resolve), 100);
      });
      req.on('error', () => undefined);
    });
  try {
    const [whole] = await Promise.all([Promise.all(Array.from({ length: 6 }, fetchWhole)), Promise.all(Array.from({ length: 6 }, cancel))]);
    for (const body of whole) assert.ok(body.equals(content));
    const results = await Promise.all(outcomes);
    assert.equal(results.filter((e) => e === undefined).length, 6);
    assert.equal(results.filter((e) => e instanceof Error).length, 6);
  } finally {
    session.close();
    server.close();
  }
  await allBack();
});

test('over HTTP/1.1, a connection reset while a read is in flight (before its close event): every buffer comes back', async () => {
  const outcomes: Promise<Error | undefined>[] = [];
  const server = createServer((_req, res) => {
    res.setHeader('content-length', 1024 * 1024);
    let reads = 0;
    // A body whose second read ends just after the connection was destroyed (a client's reset seen by the server),
    // in the window before the response's 'close' event.
    const body = {
      start: 0,
      shortReadIsEnd: false,
      async readInto(buffer: Buffer): Promise<number> {
        if (++reads === 2) {
          res.socket?.destroy();
          await Promise.resolve();
        }
        buffer.fill(1, 0, 100);
        return 100;
      },
      destroy: () => undefined,
    };
    outcomes.push(new Promise((resolve) => sendFileBody(res, body as unknown as FileBody, (err) => resolve(err))));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  try {
    await new Promise<void>((resolve) => {
      const req = get(`http://127.0.0.1:${(server.address() as AddressInfo).port}/`, { agent: false }, (res) => res.resume().on('close', resolve));
      req.on('error', () => resolve());
    });
    for (const err of await Promise.all(outcomes)) assert.ok(err instanceof Error);
  } finally {
    server.close();
  }
  await allBack();
});

test('over HTTP/1.1, a pipelined response behind one the client left (its writes queued for a socket it never got): every buffer comes back', async () => {
  const outcomes: Promise<Error | undefined>[] = [];
  const server = createServer(handler(outcomes, bigPath, bigBytes));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  try {
    const socket = createConnection((server.address() as AddressInfo).port, '127.0.0.1');
    socket.on('error', () => undefined);
    // Two requests in one write, and nothing read: the second response waits for the first, which waits for the client.
    socket.write('GET /a HTTP/1.1\r\nHost: x\r\n\r\nGET /b HTTP/1.1\r\nHost: x\r\n\r\n');
    socket.pause();
    for (let i = 0; i < 200 && outcomes.length < 2; i++) await sleep(10);
    await sleep(200);
    socket.destroy();
    const results = await Promise.all(outcomes);
    assert.equal(results.length, 2);
    for (const err of results) assert.ok(err instanceof Error);
  } finally {
    server.close();
  }
  await allBack();
});
