// A stored blob written from reused buffers (src/server/send-file.ts): whole and spans arrive byte for byte, the
// buffers of one response never hold another's bytes, and a client that leaves or a failing read aborts the
// transfer and closes the file.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtemp, open, rm, writeFile } from 'node:fs/promises';
import { createServer, get, type Server, type ServerResponse } from 'node:http';
import { connect, createServer as createH2Server } from 'node:http2';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { FileBody } from '../../../src/cache/file-body.js';
import { sendFileBody } from '../../../src/server/send-file.js';

let dir: string;
let path: string;
const content = randomBytes(3 * 1024 * 1024 + 12345);

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'send-file-'));
  path = join(dir, 'blob');
  await writeFile(path, content);
});
after(() => rm(dir, { recursive: true, force: true }));

interface Sent {
  err: Error | undefined;
  bytes: number;
  closed: Promise<void>;
}

/** A server that answers every request with `span` of the file; `sent` gets each response's outcome. */
async function serve(span: { start: number; end?: number }, sent: (s: Promise<Sent>) => void, body?: (b: FileBody) => FileBody): Promise<{ server: Server; url: string }> {
  const server = createServer((_req, res) => {
    void (async () => {
      const handle = await open(path, 'r');
      const file = body ? body(new FileBody(handle, span.start, span.end)) : new FileBody(handle, span.start, span.end);
      const closed = new Promise<void>((resolve) => file.once('close', () => resolve()));
      const length = (span.end ?? content.length - 1) - span.start + 1;
      res.setHeader('content-length', length);
      res.flushHeaders();
      sent(new Promise((resolve) => sendFileBody(res, file, (err, bytes) => resolve({ err, bytes, closed }))));
    })();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/` };
}

function fetchAll(url: string): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    get(url, (res) => {
      const parts: Buffer[] = [];
      res.on('data', (c: Buffer) => parts.push(c));
      res.on('end', () => resolve(Buffer.concat(parts)));
      res.on('error', reject);
    }).on('error', reject);
  });
}

test('whole files and spans arrive byte for byte, two responses at once each with its own bytes, and the file is closed', async () => {
  const outcomes: Promise<Sent>[] = [];
  for (const span of [{ start: 0 }, { start: 1000, end: 2 * 1024 * 1024 + 7 }, { start: content.length - 1, end: content.length - 1 }]) {
    const { server, url } = await serve(span, (s) => outcomes.push(s));
    try {
      const [a, b] = await Promise.all([fetchAll(url), fetchAll(url)]);
      const expected = content.subarray(span.start, (span.end ?? content.length - 1) + 1);
      assert.ok(a.equals(expected) && b.equals(expected), `span ${JSON.stringify(span)}`);
    } finally {
      server.close();
    }
  }
  for (const o of outcomes) {
    const s = await o;
    assert.equal(s.err, undefined);
    await s.closed;
  }
});

test('a client that leaves mid-transfer: the response is aborted, the outcome is an error, the file is closed', async () => {
  let outcome: Promise<Sent> | undefined;
  const { server, url } = await serve({ start: 0 }, (s) => (outcome = s));
  try {
    await new Promise<void>((resolve) => {
      const req = get(url, (res) => {
        res.once('data', () => {
          req.destroy();
          resolve();
        });
      });
      req.on('error', () => undefined);
    });
    assert.ok(outcome);
    const s = await outcome;
    assert.ok(s.err instanceof Error);
    assert.ok(s.bytes < content.length);
    await s.closed;
  } finally {
    server.close();
  }
});

test('a read that fails mid-file aborts the transfer: the client never sees a clean short end', async () => {
  let outcome: Promise<Sent> | undefined;
  const failing = (b: FileBody): FileBody => {
    let reads = 0;
    const readInto = b.readInto.bind(b);
    b.readInto = (buffer, position) => (++reads === 3 ? Promise.reject(new Error('EIO')) : readInto(buffer, position));
    return b;
  };
  const { server, url } = await serve({ start: 0 }, (s) => (outcome = s), failing);
  try {
    const result = await new Promise<{ aborted: boolean; bytes: number }>((resolve) => {
      let bytes = 0;
      get(url, (res) => {
        res.on('data', (c: Buffer) => (bytes += c.length));
        res.on('end', () => resolve({ aborted: false, bytes }));
        res.on('error', () => resolve({ aborted: true, bytes }));
        res.on('aborted', () => resolve({ aborted: true, bytes }));
      });
    });
    assert.equal(result.aborted, true);
    assert.ok(result.bytes < content.length);
    assert.ok(outcome);
    const s = await outcome;
    assert.equal(s.err?.message, 'EIO');
    await s.closed;
  } finally {
    server.close();
  }
});

test('over HTTP/2 (the compatibility response the h2 listener hands out) the file arrives whole and is closed', async () => {
  let outcome: Promise<Sent> | undefined;
  const server = createH2Server((_req, res) => {
    void (async () => {
      const file = new FileBody(await open(path, 'r'), 0, undefined);
      const closed = new Promise<void>((resolve) => file.once('close', () => resolve()));
      res.setHeader('content-length', content.length);
      outcome = new Promise((resolve) => sendFileBody(res as unknown as ServerResponse, file, (err, bytes) => resolve({ err, bytes, closed })));
    })();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const session = connect(`http://127.0.0.1:${(server.address() as AddressInfo).port}`);
  try {
    const body = await new Promise<Buffer>((resolve, reject) => {
      const parts: Buffer[] = [];
      const req = session.request({ ':path': '/' });
      req.on('data', (c: Buffer) => parts.push(c));
      req.on('end', () => resolve(Buffer.concat(parts)));
      req.on('error', reject);
    });
    assert.ok(body.equals(content));
    assert.ok(outcome);
    const s = await outcome;
    assert.equal(s.err, undefined);
    assert.equal(s.bytes, content.length);
    await s.closed;
  } finally {
    session.close();
    server.close();
  }
});

test('responses of different spans at once, some clients slow and some leaving, each get exactly their own bytes', async () => {
  const server = createServer((req, res) => {
    void (async () => {
      const q = new URL(req.url ?? '/', 'http://x').searchParams;
      const start = Number(q.get('start'));
      const end = Number(q.get('end'));
      const file = new FileBody(await open(path, 'r'), start, end);
      res.setHeader('content-length', end - start + 1);
      res.flushHeaders();
      sendFileBody(res, file, () => undefined);
    })();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
  /** Reads a span; a slow client pauses between chunks, a leaving one goes after its first chunk. */
  const read = (start: number, end: number, how: 'fast' | 'slow' | 'leave') =>
    new Promise<Buffer | undefined>((resolve, reject) => {
      const req = get(`${base}?start=${start}&end=${end}`, (res) => {
        const parts: Buffer[] = [];
        // A slow client reads nothing for a while: the server's writes queue up behind a full socket.
        if (how === 'slow') {
          res.pause();
          setTimeout(() => res.resume(), 300);
        }
        res.on('data', (c: Buffer) => {
          parts.push(c);
          if (how === 'leave') return (req.destroy(), resolve(undefined));
        });
        res.on('end', () => resolve(Buffer.concat(parts)));
        res.on('error', (err) => (how === 'leave' ? resolve(undefined) : reject(err)));
      });
      req.on('error', (err) => (how === 'leave' ? resolve(undefined) : reject(err)));
    });
  try {
    for (let round = 0; round < 3; round++) {
      const spans = Array.from({ length: 12 }, (_, i) => {
        const start = (i * 57_131 + round * 4099) % 1_000_000;
        return { start, end: content.length - 1, how: (['fast', 'slow', 'leave'] as const)[i % 3] as 'fast' | 'slow' | 'leave' };
      });
      const got = await Promise.all(spans.map((s) => read(s.start, s.end, s.how)));
      spans.forEach((s, i) => {
        if (s.how !== 'leave') assert.ok(got[i]?.equals(content.subarray(s.start, s.end + 1)), `round ${round}, span ${s.start}-${s.end} (${s.how})`);
      });
    }
  } finally {
    server.close();
  }
});

test('a long response holds no more memory at its end than near its start: nothing is kept per chunk written', async () => {
  setFlagsFromString('--expose-gc');
  const gc = runInNewContext('gc') as () => void;
  const chunks = 20_000;
  const heapAt = new Map<number, number>();
  const server = createServer((_req, res) => {
    let reads = 0;
    // Many small chunks (a short read is not the end here, as for a fill in progress): what a response keeps per
    // chunk, if anything, adds up to megabytes.
    const body = {
      start: 0,
      shortReadIsEnd: false,
      readInto(buffer: Buffer): Promise<number> {
        if (++reads > chunks) return Promise.resolve(0);
        if (reads === 2_000 || reads === chunks) {
          gc();
          heapAt.set(reads, process.memoryUsage().heapUsed);
        }
        buffer.fill(1, 0, 16);
        return Promise.resolve(16);
      },
      destroy: () => undefined,
    };
    res.setHeader('content-length', chunks * 16);
    res.flushHeaders();
    sendFileBody(res, body as unknown as FileBody, () => undefined);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  try {
    const received = await fetchAll(`http://127.0.0.1:${(server.address() as AddressInfo).port}/`);
    assert.equal(received.length, chunks * 16);
  } finally {
    server.close();
  }
  // What the process compiles and caches meanwhile is a few hundred KiB; a reaction kept per chunk written made
  // it about 2 KiB per chunk, 34 MB here.
  const grew = heapAt.get(chunks)! - heapAt.get(2_000)!;
  assert.ok(grew < 4 * 1024 * 1024, `the heap grew by ${grew} bytes over ${chunks - 2_000} chunks`);
});
