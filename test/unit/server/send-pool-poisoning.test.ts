// The send pools (src/server/send-file.ts) with every buffer poisoned the moment it goes back: a response of any
// size (one that starts with a large buffer because its Content-Length says so included) over HTTP/1.1 and HTTP/2,
// many at once so that the large pool runs out, some clients slow and some leaving mid-transfer: a buffer handed
// back while a write still refers to it would send 0xee instead of the blob's bytes.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtemp, open, rm, writeFile } from 'node:fs/promises';
import { createServer, get, type IncomingMessage, type ServerResponse } from 'node:http';
import { connect, constants, createServer as createH2Server, type Http2ServerResponse } from 'node:http2';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { FileBody } from '../../../src/cache/file-body.js';
import { sendFileBody, sendPools } from '../../../src/server/send-file.js';

let dir: string;
let path: string;
const content = randomBytes(3 * 1024 * 1024 + 5);
/** Around a small buffer's size (64 KiB) and a large one's (256 KiB), and far past both. */
const sizes = [1, 1000, 65535, 65536, 65537, 200_000, 262_144, 262_145, 700_001, content.length];

const restore = { small: sendPools.small.giveBack.bind(sendPools.small), large: sendPools.large.giveBack.bind(sendPools.large) };
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'send-poison-'));
  path = join(dir, 'blob');
  await writeFile(path, content);
  sendPools.small.giveBack = (buffer: Buffer) => (buffer.fill(0xee), restore.small(buffer));
  sendPools.large.giveBack = (buffer: Buffer) => (buffer.fill(0xee), restore.large(buffer));
});
after(async () => {
  sendPools.small.giveBack = restore.small;
  sendPools.large.giveBack = restore.large;
  await rm(dir, { recursive: true, force: true });
});

/** Times a response found the large pool empty. */
let largeRanOut = 0;
const take = sendPools.large.take.bind(sendPools.large);
sendPools.large.take = () => take() ?? void largeRanOut++;

const lent = (): number => sendPools.small.lent + sendPools.large.lent;
async function allBack(): Promise<void> {
  for (let i = 0; i < 300 && lent() > 0; i++) await sleep(10);
  assert.equal(lent(), 0, `buffers still lent: small ${sendPools.small.lent}, large ${sendPools.large.lent}`);
}

/** Responses that have taken their first buffer; each first read waits until every response of the test has. */
const gate = { waiting: 0, want: 0, open: (): void => undefined };
let opened = Promise.resolve();
function closeGate(want: number): void {
  gate.waiting = 0;
  gate.want = want;
  opened = new Promise<void>((resolve) => {
    gate.open = resolve;
    setTimeout(resolve, 5000).unref(); // never a hang: the assertions below tell what went wrong
  });
}

/** A disk whose first reads all wait for each other: the responses of a test then hold their buffers at once. */
class GatedDisk extends FileBody {
  private first = true;
  override async readInto(buffer: Buffer, position: number): Promise<number> {
    if (this.first) {
      this.first = false;
      if (++gate.waiting >= gate.want) gate.open();
      await opened;
    }
    return super.readInto(buffer, position);
  }
}

/** `/<size>`: the blob's first `size` bytes, with their Content-Length. */
function handler(outcomes: Promise<unknown>[]) {
  return (req: { url?: string | undefined }, res: ServerResponse | Http2ServerResponse): void => {
    const size = Number(req.url!.slice(1));
    outcomes.push(
      (async () => {
        const body = new GatedDisk(await open(path, 'r'), 0, size - 1);
        res.setHeader('content-length', size);
        return new Promise((resolve) => sendFileBody(res as ServerResponse, body, resolve));
      })(),
    );
  };
}

/** What each client does: reads at once, reads slowly, or leaves after its first bytes. */
const modes = ['fast', 'slow', 'leave'] as const;

/** 90 requests at once, every size in every mode; each body that was read whole is the content's start, unpoisoned. */
async function ninetyAtOnce(fetchOne: (size: number, mode: (typeof modes)[number]) => Promise<Buffer | undefined>, outcomes: Promise<unknown>[]): Promise<void> {
  const runs = [];
  for (let i = 0; i < 90; i++) {
    const size = sizes[i % sizes.length]!;
    const mode = modes[Math.floor(i / sizes.length) % modes.length]!;
    runs.push(fetchOne(size, mode).then((got) => ({ size, mode, got })));
  }
  for (const { size, mode, got } of await Promise.all(runs)) {
    if (mode === 'leave') continue;
    assert.ok(got?.equals(content.subarray(0, size)), `${mode} ${size}: ${got?.length} bytes, poisoned: ${got?.includes(0xee) && !content.subarray(0, size).includes(0xee)}`);
  }
  await Promise.all(outcomes);
  assert.ok(largeRanOut > 0, 'the large pool ran out');
}

test('over HTTP/1.1, 90 responses of every size at once, slow and leaving clients among them: every body whole, no poisoned byte, every buffer back', async () => {
  largeRanOut = 0;
  closeGate(90);
  const outcomes: Promise<unknown>[] = [];
  const server = createServer(handler(outcomes));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  const fetchOne = (size: number, mode: (typeof modes)[number]): Promise<Buffer | undefined> =>
    new Promise((resolve, reject) => {
      const req = get({ host: '127.0.0.1', port, path: `/${size}`, agent: false }, (res: IncomingMessage) => {
        const parts: Buffer[] = [];
        res.on('data', (c: Buffer) => {
          parts.push(c);
          if (mode === 'leave') return void (req.destroy(), resolve(undefined));
          if (mode === 'slow') {
            res.pause();
            setTimeout(() => res.resume(), 5);
          }
        });
        res.on('end', () => resolve(Buffer.concat(parts)));
        res.on('error', () => resolve(undefined));
      });
      req.on('error', (e) => (mode === 'leave' ? resolve(undefined) : reject(e)));
    });
  try {
    await ninetyAtOnce(fetchOne, outcomes);
  } finally {
    server.close();
  }
  await allBack();
});

test('over HTTP/2, 90 streams of every size on one session, slow and cancelled ones among them: every body whole, no poisoned byte, every buffer back', async () => {
  largeRanOut = 0;
  closeGate(90);
  const outcomes: Promise<unknown>[] = [];
  const server = createH2Server(handler(outcomes));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const session = connect(`http://127.0.0.1:${(server.address() as AddressInfo).port}`);
  const fetchOne = (size: number, mode: (typeof modes)[number]): Promise<Buffer | undefined> =>
    new Promise((resolve) => {
      const stream = session.request({ ':path': `/${size}` });
      const parts: Buffer[] = [];
      stream.on('data', (c: Buffer) => {
        parts.push(c);
        if (mode === 'leave') return void (stream.close(constants.NGHTTP2_CANCEL), resolve(undefined));
        if (mode === 'slow') {
          stream.pause();
          setTimeout(() => stream.resume(), 5);
        }
      });
      stream.on('end', () => resolve(Buffer.concat(parts)));
      stream.on('error', () => resolve(undefined));
      stream.on('close', () => resolve(mode === 'leave' ? undefined : Buffer.concat(parts)));
    });
  try {
    await ninetyAtOnce(fetchOne, outcomes);
  } finally {
    session.close();
    server.close();
  }
  await allBack();
});
