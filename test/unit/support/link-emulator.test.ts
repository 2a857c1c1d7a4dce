// The link emulator (test/support/link-emulator.ts) on real loopback sockets: the delay it adds, bytes passed
// exactly and in order both ways, one connection's throughput bounded by window/RTT and by the rate cap, and
// connections cut after exactly N bytes.
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { connect, createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { startLinkEmulator, type LinkEmulator, type LinkOptions } from '../../support/link-emulator.js';

const MiB = 1024 * 1024;
const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

interface Target {
  port: number;
  close(): Promise<void>;
}

/** Echo: every byte back, and an end for an end. */
async function echoServer(): Promise<Target> {
  return listen(createServer({ allowHalfOpen: true }, (s) => s.pipe(s)));
}

/** Sends `payload` to each connection as soon as it opens, then ends. */
async function sourceServer(payload: Buffer): Promise<Target> {
  return listen(createServer((s) => {
    s.on('error', () => undefined);
    s.end(payload);
  }));
}

async function listen(server: Server): Promise<Target> {
  const sockets = new Set<Socket>();
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('error', () => undefined);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as AddressInfo).port,
    async close() {
      for (const s of sockets) s.destroy();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

interface Received {
  data: Buffer;
  /** ms from connect to the first byte and to the end. */
  firstMs: number;
  endMs: number;
  error?: NodeJS.ErrnoException;
}

/** Connects, optionally sends `send` (then ends), and collects everything until the connection closes. */
function exchange(port: number, send?: Buffer): Promise<Received> {
  return new Promise((resolve) => {
    const started = performance.now();
    const chunks: Buffer[] = [];
    let firstMs = Number.NaN;
    let error: NodeJS.ErrnoException | undefined;
    const s = connect({ port, host: '127.0.0.1', allowHalfOpen: true });
    s.on('data', (c: Buffer) => {
      if (chunks.length === 0) firstMs = performance.now() - started;
      chunks.push(c);
    });
    s.on('error', (e) => (error = e));
    s.on('end', () => s.end());
    s.on('close', () => resolve({ data: Buffer.concat(chunks), firstMs, endMs: performance.now() - started, ...(error ? { error } : {}) }));
    if (send) s.end(send);
  });
}

/** One round trip of a small message over an open connection, ms. */
async function roundTrip(port: number): Promise<number> {
  const s = connect(port, '127.0.0.1');
  await new Promise<void>((resolve) => s.once('connect', () => resolve()));
  s.setNoDelay(true);
  const times: number[] = [];
  for (let i = 0; i < 3; i++) {
    const t = performance.now();
    const back = new Promise<void>((resolve) => s.once('data', () => resolve()));
    s.write('ping');
    await back;
    times.push(performance.now() - t);
  }
  s.destroy();
  return Math.min(...times);
}

describe('the link emulator', () => {
  const links: LinkEmulator[] = [];
  const targets: Target[] = [];
  const link = async (o: LinkOptions): Promise<LinkEmulator> => {
    const l = await startLinkEmulator(o);
    links.push(l);
    return l;
  };
  let echo: Target;

  before(async () => {
    echo = await echoServer();
    targets.push(echo);
  });

  after(async () => {
    for (const l of links) await l.close();
    for (const t of targets) await t.close();
  });

  test('adds the one-way delay in each direction: a round trip takes 2 × delay more than without it', async () => {
    const direct = await roundTrip(echo.port);
    const slow = await link({ targetPort: echo.port, delayMs: 40 });
    const rtt = await roundTrip(slow.port);
    assert.ok(rtt >= 80, `round trip ${rtt.toFixed(1)} ms through a 40 ms each-way link`);
    assert.ok(rtt < 80 + direct + 40, `round trip ${rtt.toFixed(1)} ms is far above 80 ms (direct: ${direct.toFixed(1)} ms)`);
  });

  test('passes bytes exactly and in order both ways, with a small window, a rate cap and a half-close', async () => {
    const l = await link({ targetPort: echo.port, delayMs: 2, windowBytes: 64 * 1024, bytesPerSecond: 200 * MiB });
    const payload = randomBytes(6 * MiB + 123);
    const got = await exchange(l.port, payload);
    assert.equal(got.error, undefined);
    assert.equal(got.data.length, payload.length);
    assert.equal(sha(got.data), sha(payload));
    const stats = l.stats();
    assert.equal(stats.up, payload.length);
    assert.equal(stats.down, payload.length);
    assert.equal(stats.cut, 0);
  });

  test('one connection moves at most about window/RTT', async () => {
    const payload = randomBytes(8 * MiB);
    const source = await sourceServer(payload);
    targets.push(source);
    const delayMs = 25;
    const windowBytes = MiB;
    const l = await link({ targetPort: source.port, delayMs, windowBytes });
    const got = await exchange(l.port);
    assert.equal(sha(got.data), sha(payload));
    // Bytes flow from the first one's arrival on; each RTT moves one window.
    const seconds = (got.endMs - got.firstMs) / 1000;
    const bound = windowBytes / ((2 * delayMs) / 1000);
    const rate = (payload.length - windowBytes) / seconds;
    assert.ok(rate <= bound * 1.15, `${(rate / MiB).toFixed(1)} MiB/s exceeds window/RTT = ${(bound / MiB).toFixed(1)} MiB/s`);
    assert.ok(rate >= bound * 0.4, `${(rate / MiB).toFixed(1)} MiB/s is far below window/RTT = ${(bound / MiB).toFixed(1)} MiB/s`);
  });

  test('caps one connection at the rate given', async () => {
    const payload = randomBytes(2 * MiB);
    const source = await sourceServer(payload);
    targets.push(source);
    const bytesPerSecond = 4 * MiB;
    const l = await link({ targetPort: source.port, bytesPerSecond });
    const got = await exchange(l.port);
    assert.equal(sha(got.data), sha(payload));
    const seconds = got.endMs / 1000;
    const expected = payload.length / bytesPerSecond;
    assert.ok(seconds >= expected * 0.9, `${seconds.toFixed(2)} s for what takes ${expected.toFixed(2)} s at the cap`);
    assert.ok(seconds <= expected * 2 + 0.5, `${seconds.toFixed(2)} s, far slower than the cap allows (${expected.toFixed(2)} s)`);
  });

  test('cuts the first connection after exactly N bytes toward the client, then an end; later ones pass', async () => {
    const payload = randomBytes(3 * MiB);
    const source = await sourceServer(payload);
    targets.push(source);
    const afterBytes = 1_000_003;
    const l = await link({ targetPort: source.port, delayMs: 1, cut: { afterBytes, connections: 1 } });
    const cut = await exchange(l.port);
    assert.equal(cut.data.length, afterBytes);
    assert.ok(cut.data.equals(payload.subarray(0, afterBytes)), 'the bytes before the cut differ');
    assert.equal(cut.error, undefined);
    const whole = await exchange(l.port);
    assert.equal(whole.error, undefined);
    assert.equal(sha(whole.data), sha(payload));
    assert.deepEqual({ connections: l.stats().connections, cut: l.stats().cut }, { connections: 2, cut: 1 });
  });

  test('cuts each connection where cutDownAfter says: the second after its own count, the third not at all', async () => {
    const payload = randomBytes(2 * MiB);
    const source = await sourceServer(payload);
    targets.push(source);
    const points = [700_001, 12_345];
    const l = await link({ targetPort: source.port, delayMs: 1, cutDownAfter: (n) => points[n] });
    for (const afterBytes of points) {
      const cut = await exchange(l.port);
      assert.equal(cut.data.length, afterBytes);
      assert.ok(cut.data.equals(payload.subarray(0, afterBytes)), 'the bytes before the cut differ');
    }
    const whole = await exchange(l.port);
    assert.equal(sha(whole.data), sha(payload));
    assert.deepEqual({ connections: l.stats().connections, cut: l.stats().cut }, { connections: 3, cut: 2 });
  });

  test('cuts after N bytes toward the target (direction up): the target gets exactly N, the client a reset', async () => {
    const received: Buffer[] = [];
    const sink = await listen(createServer((s) => s.on('data', (c: Buffer) => received.push(c))));
    targets.push(sink);
    const l = await link({ targetPort: sink.port, cut: { afterBytes: 4096, direction: 'up' } });
    const got = await exchange(l.port, randomBytes(MiB));
    assert.ok(got.error?.code === 'ECONNRESET' || got.error?.code === 'EPIPE', `the client saw ${String(got.error?.code)}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
    assert.equal(Buffer.concat(received).length, 4096);
    assert.equal(l.stats().cut, 1);
  });
});
