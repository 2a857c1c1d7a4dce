// Followers writing a fill's own batches (src/server/send-file.ts, BlobFill.lendRecent) under every way a client can
// misbehave, over HTTP/1.1 and HTTP/2, plain and TLS: clients that stop and resume, leave mid-write, reset h2 streams,
// ask for ranges, more followers than the lending bound, and a fill aborted under them. A batch buffer given back to
// the pool while a write still refers to it would send foreign bytes: every buffer given back is poisoned at once
// and a second fill reuses the pool meanwhile, so any such write shows up as wrong bytes at the client.
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, request as h1Request, type IncomingMessage, type ServerResponse } from 'node:http';
import { request as tlsRequest, createServer as createTlsH1Server } from 'node:https';
import { connect, constants, createServer as createH2Server, createSecureServer, type ClientHttp2Session } from 'node:http2';
import type { AddressInfo, Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Digest } from '../../../src/registry/digest.js';
import { batchBuffers, lentBuffers, maxLentBuffers, SharedBatchBuffer } from '../../../src/mirror/batch-buffers.js';
import { BlobFill } from '../../../src/mirror/blob-fill.js';
import { sendFileBody, sendPools } from '../../../src/server/send-file.js';
import { createTestCa, type IssuedCert } from '../../support/pki.js';
import { TransientChunks } from '../../support/fake/transient-body.js';

const MiB = 1024 * 1024;
const sha = (b: Buffer) => `sha256:${createHash('sha256').update(b).digest('hex')}` as Digest;
type Transport = 'h1' | 'h1-tls' | 'h2' | 'h2-tls';
let dir: string;
let cert: IssuedCert;
let caPem: string;
let maxLent = 0;
const lend = SharedBatchBuffer.prototype.lend;
const giveBack = batchBuffers.giveBack.bind(batchBuffers);

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'pullgate-lend-attack-'));
  const ca = await createTestCa(join(dir, 'ca'));
  caPem = ca.caCertPem;
  cert = await ca.issue('localhost', ['localhost'], ['127.0.0.1']);
  // Poisoned on the way back: a socket still writing a buffer given back sends 0xee.
  batchBuffers.giveBack = (buffer: Buffer) => (buffer.fill(0xee), giveBack(buffer));
  SharedBatchBuffer.prototype.lend = function (this: SharedBatchBuffer): boolean {
    const ok = lend.call(this);
    maxLent = Math.max(maxLent, lentBuffers.held);
    return ok;
  };
});
after(async () => {
  batchBuffers.giveBack = giveBack;
  SharedBatchBuffer.prototype.lend = lend;
  await rm(dir, { recursive: true, force: true });
});

async function until(check: () => boolean, what: string | (() => string), ms = 10_000): Promise<void> {
  for (const end = performance.now() + ms; !check() && performance.now() < end; ) await sleep(10);
  assert.ok(check(), typeof what === 'string' ? what : what());
}

let fills = 0;
function fillOf(bytes: Buffer, stallAt?: number): { fill: BlobFill; source: TransientChunks } {
  const source = new TransientChunks(bytes, { chunkBytes: 64 * 1024, ...(stallAt === undefined ? {} : { stallAt }) });
  source.pause();
  const fill = new BlobFill(sha(bytes), bytes.length, join(dir, `f${fills++}.part`), source, async () => undefined, 60_000);
  return { fill, source };
}

/** A server whose every request follows `fill` (a Range header asks for a span); outcomes collected. */
async function serve(transport: Transport, fill: BlobFill, outcomes: Promise<Error | undefined>[]): Promise<{ server: Server; url: string }> {
  const handler = (req: IncomingMessage, res: ServerResponse): void => {
    const m = /^bytes=(\d+)-(\d+)$/.exec(String(req.headers.range ?? ''));
    const span = m ? { start: Number(m[1]), end: Number(m[2]) } : { start: 0, end: fill.size - 1 };
    const reader = fill.reader(span)!;
    res.statusCode = m ? 206 : 200;
    res.setHeader('content-length', span.end - span.start + 1);
    outcomes.push(new Promise((resolve) => sendFileBody(res, reader, (err) => resolve(err))));
  };
  const tls = { key: cert.keyPem, cert: cert.certPem };
  const h2 = (req: unknown, res: unknown) => handler(req as IncomingMessage, res as ServerResponse);
  const server = (
    transport === 'h1' ? createServer(handler) : transport === 'h1-tls' ? createTlsH1Server(tls, handler) : transport === 'h2' ? createH2Server(h2) : createSecureServer(tls, h2)
  ) as unknown as Server;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return { server, url: `${transport.endsWith('tls') ? 'https' : 'http'}://127.0.0.1:${port}` };
}

type Behaviour = 'whole' | 'stop' | 'leave' | 'reset-session';
interface Got {
  bytes: Buffer;
  ended: boolean;
}

/** One request; `range` [start, end]; stops, leaves or kills the whole h2 session after its first bytes. */
function pull(transport: Transport, url: string, behaviour: Behaviour, range?: [number, number], session?: ClientHttp2Session): Promise<Got> {
  const headers: Record<string, string> = range ? { range: `bytes=${range[0]}-${range[1]}` } : {};
  return new Promise((resolve) => {
    const parts: Buffer[] = [];
    const done = (ended: boolean) => resolve({ bytes: Buffer.concat(parts), ended });
    const onFirst = (stream: { pause(): void; resume(): void }, leave: () => void) => {
      if (behaviour === 'stop') (stream.pause(), setTimeout(() => stream.resume(), 400));
      if (behaviour === 'leave' || behaviour === 'reset-session') setTimeout(() => (stream.pause(), setTimeout(leave, 150)), 20);
    };
    if (transport.startsWith('h2')) {
      const req = session!.request({ ':path': '/', ...headers });
      req.once('data', () => onFirst(req, () => (behaviour === 'leave' ? req.close(constants.NGHTTP2_CANCEL) : session!.destroy())));
      req.on('data', (c: Buffer) => parts.push(c));
      req.on('end', () => done(true));
      req.on('close', () => done(false));
      req.on('error', () => done(false));
      return;
    }
    const make = transport === 'h1' ? h1Request : tlsRequest;
    const req = make(`${url}/`, { headers, agent: false, ca: caPem }, (res) => {
      res.once('data', () => onFirst(res, () => res.destroy()));
      res.on('data', (c: Buffer) => parts.push(c));
      res.on('end', () => done(true));
      res.on('error', () => done(false));
      res.on('close', () => done(false));
    });
    req.on('error', () => done(false));
    req.end();
  });
}

async function allGivenBack(): Promise<void> {
  await until(() => lentBuffers.held === 0, `${lentBuffers.held} batch buffers still lent`);
  await until(() => sendPools.large.lent + sendPools.small.lent === 0, 'send buffers still lent');
}

function sessions(transport: Transport, url: string, n: number): ClientHttp2Session[] {
  if (!transport.startsWith('h2')) return [];
  return Array.from({ length: n }, () => {
    // A small window: the server's writes queue up behind flow control.
    const s = connect(url, { ca: caPem, settings: { initialWindowSize: 16 * 1024 } });
    s.on('error', () => undefined);
    return s;
  });
}

for (const transport of ['h1', 'h1-tls', 'h2', 'h2-tls'] as const) {
  test(`${transport}: 40 followers at a fill's edge (whole, ranges, stopping, leaving, sessions killed) while another fill reuses the pool: every byte received is the blob's`, async () => {
    const bytes = randomBytes(20 * MiB + 7);
    const decoy = randomBytes(30 * MiB);
    const { fill, source } = fillOf(bytes);
    const other = fillOf(decoy);
    const outcomes: Promise<Error | undefined>[] = [];
    const { server, url } = await serve(transport, fill, outcomes);
    const pool = sessions(transport, url, 6);
    const plan: Array<{ behaviour: Behaviour; range?: [number, number] }> = [];
    for (let i = 0; i < 40; i++) {
      const behaviour: Behaviour = (['whole', 'stop', 'leave', 'whole', 'stop'] as const)[i % 5]!;
      const range: [number, number] | undefined = i % 3 === 0 ? [512 * 1024 - 3 + i * 1000, 15 * MiB + i] : undefined;
      plan.push({ behaviour: i === 39 && transport.startsWith('h2') ? 'reset-session' : behaviour, ...(range ? { range } : {}) });
    }
    maxLent = 0;
    try {
      const pulls = plan.map((p, i) => pull(transport, url, p.behaviour, p.range, pool[p.behaviour === 'reset-session' ? 5 : i % 5]));
      await until(() => outcomes.length === plan.length, 'every client follows');
      source.resume();
      other.source.resume();
      const got = await Promise.all(pulls);
      got.forEach((g, i) => {
        const { behaviour, range } = plan[i]!;
        const want = range ? bytes.subarray(range[0], range[1] + 1) : bytes;
        assert.ok(want.subarray(0, g.bytes.length).equals(g.bytes), `client ${i} (${behaviour}) got foreign bytes`);
        if (behaviour === 'whole' || behaviour === 'stop') assert.ok(g.ended && g.bytes.length === want.length, `client ${i} (${behaviour}) got ${g.bytes.length} of ${want.length}`);
      });
      await Promise.all([fill.finished, other.fill.finished]);
      assert.equal(fill.state, 'done', String(fill.error));
    } finally {
      for (const s of pool) s.destroy();
      server.close();
    }
    assert.ok(maxLent <= maxLentBuffers, `${maxLent} lent at once`);
    await allGivenBack();
  });
}

for (const transport of ['h1', 'h2-tls'] as const) {
  test(`${transport}: a fill aborted while stopped followers hold lent batches: each transfer is aborted, never ended short, and every batch comes back`, async () => {
    const bytes = randomBytes(16 * MiB);
    const { fill, source } = fillOf(bytes, 9 * MiB);
    const outcomes: Promise<Error | undefined>[] = [];
    const { server, url } = await serve(transport, fill, outcomes);
    const pool = sessions(transport, url, 2);
    try {
      const pulls = Array.from({ length: 12 }, (_, i) => pull(transport, url, i % 2 ? 'stop' : 'whole', undefined, pool[i % 2]));
      await until(() => outcomes.length === 12, 'every client follows');
      source.resume();
      await until(() => fill.received >= 9 * MiB, () => `the fill reached its stall: ${fill.received} ${fill.state} ${String(fill.error)}`);
      await sleep(100);
      fill.abort(new Error('aborted under its followers'));
      const got = await Promise.all(pulls);
      for (const g of got) {
        assert.equal(g.ended, false, 'a transfer of a failed fill ended cleanly');
        assert.ok(bytes.subarray(0, g.bytes.length).equals(g.bytes), 'foreign bytes');
      }
      for (const err of await Promise.all(outcomes)) assert.ok(err instanceof Error);
      await fill.finished;
    } finally {
      for (const s of pool) s.destroy();
      server.close();
    }
    await allGivenBack();
  });
}

for (const transport of ['h1', 'h2-tls'] as const) {
  test(`${transport}: the server dropping every connection (shutdown) while stopped followers hold lent batches: every batch comes back, no byte foreign`, async () => {
    const bytes = randomBytes(12 * MiB);
    const { fill, source } = fillOf(bytes);
    const outcomes: Promise<Error | undefined>[] = [];
    const { server, url } = await serve(transport, fill, outcomes);
    const serverSessions = new Set<{ destroy(): void }>();
    server.on('session', (s: { destroy(): void }) => serverSessions.add(s));
    const sockets = new Set<{ destroy(): void }>();
    server.on('connection', (s: { destroy(): void }) => sockets.add(s));
    const pool = sessions(transport, url, 2);
    try {
      const pulls = Array.from({ length: 10 }, (_, i) => pull(transport, url, i % 2 ? 'stop' : 'whole', undefined, pool[i % 2]));
      await until(() => outcomes.length === 10, 'every client follows');
      source.resume();
      await until(() => lentBuffers.held > 0 && fill.received > 4 * MiB, 'writes of lent bytes are queued');
      for (const s of serverSessions) s.destroy();
      for (const s of sockets) s.destroy();
      const got = await Promise.all(pulls);
      for (const g of got) assert.ok(bytes.subarray(0, g.bytes.length).equals(g.bytes), 'foreign bytes');
      await Promise.all(outcomes);
      await fill.finished;
    } finally {
      for (const s of pool) s.destroy();
      server.close();
    }
    await allGivenBack();
  });
}
