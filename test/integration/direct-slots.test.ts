// Direct reads are bounded per origin as undici's pool is (docs/operating.md, "Direct reads of blob bodies"): at most
// 64 active connections to one origin, whatever the fills in flight; the others wait in line, first come first
// served, with no timer of their own (connect, headers and body idle time start with their connection), and an abort
// takes a read out of the line. Against a real loopback HTTP server that counts the requests it holds.
import assert from 'node:assert/strict';
import { createServer, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, test } from 'node:test';
import { connectionsPerOrigin } from '../../src/upstream/dispatcher.js';
import type { UpstreamResponse } from '../../src/upstream/exchange.js';
import { Upstream } from '../../src/upstream/upstream.js';
import { upstreamConfig } from '../support/upstream-config.js';
import { until } from '../support/until.js';

const body = Buffer.alloc(1024, 7);

describe('direct reads of one origin', () => {
  let server: Server;
  let upstream: Upstream;
  let origin: string;
  /** Requests answered with a head only; their body is sent when the test says. */
  const held: Array<{ path: string; res: ServerResponse }> = [];
  let open = 0;
  let mostOpen = 0;

  before(async () => {
    server = createServer((req, res) => {
      open++;
      mostOpen = Math.max(mostOpen, open);
      res.on('finish', () => open--);
      res.on('close', () => {
        if (!res.writableFinished) open--;
      });
      res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': body.length });
      res.flushHeaders();
      held.push({ path: req.url ?? '', res });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    // Short timeouts: a read waiting for a slot longer than them is not failed by them.
    upstream = new Upstream(upstreamConfig('slots', 'slots.test', { url: new URL(origin), retries: { attempts: 1, minDelayMs: 0, maxDelayMs: 0 } }), {
      timeouts: { connect: 300, headers: 300, idle: 300 },
    });
  });
  after(async () => {
    await upstream?.close();
    server?.closeAllConnections();
    await new Promise((r) => server?.close(r));
  });

  test(`at most ${connectionsPerOrigin} at once; the rest wait in order, past every timeout, and an aborted one leaves the line`, { timeout: 30_000 }, async () => {
    const total = connectionsPerOrigin + 6;
    const controllers = Array.from({ length: total }, () => new AbortController());
    const fetches: Array<Promise<UpstreamResponse>> = controllers.map((c, i) =>
      upstream.fetch({ method: 'GET', path: `/v2/app/blobs/b${i}`, direct: true, signal: c.signal }),
    );
    for (const f of fetches) f.catch(() => undefined);
    await until(async () => (held.length >= connectionsPerOrigin ? true : undefined), 10_000, 10);
    await sleep(500);
    assert.equal(held.length, connectionsPerOrigin, 'no read beyond the bound reached the server');
    assert.deepEqual(upstream.directSlots.count(origin), { active: connectionsPerOrigin, waiting: 6 });

    const aborted = connectionsPerOrigin + 1;
    controllers[aborted]?.abort();
    await assert.rejects(fetches[aborted]!, (err: Error) => err.name === 'AbortError');
    assert.deepEqual(upstream.directSlots.count(origin), { active: connectionsPerOrigin, waiting: 5 });

    // Each read that ends lets the first in line in.
    for (let i = 0; i < 5; i++) {
      const first = held[i]!;
      first.res.end(body);
      const res = await fetches[Number(first.path.slice(first.path.lastIndexOf('b') + 1))]!;
      const parts: Buffer[] = [];
      for await (const c of res.body) parts.push(c as Buffer);
      assert.deepEqual(Buffer.concat(parts), body);
      await until(async () => (held.length >= connectionsPerOrigin + i + 1 ? true : undefined), 5_000, 5);
    }
    const admitted = held.slice(connectionsPerOrigin).map((h) => h.path.slice(h.path.lastIndexOf('/') + 1));
    assert.deepEqual(admitted, ['b64', 'b66', 'b67', 'b68', 'b69'], 'first come, first served; the aborted one never sent');
    assert.equal(mostOpen, connectionsPerOrigin, 'the server never held more than the bound at once');

    // The waiters were answered after waiting longer than every timeout: they read their bodies like the others.
    for (const h of held.slice(5)) h.res.end(body);
    const rest = await Promise.all(fetches.filter((_, i) => i >= 5 && i !== aborted));
    for (const res of rest) await res.body.dump();
    await until(async () => (upstream.directSlots.count(origin).active === 0 ? true : undefined), 5_000, 10);
  });

  test(`undici's pool for the same origin (reads that are not direct) has the same bound, ${connectionsPerOrigin}`, { timeout: 30_000 }, async () => {
    held.length = 0;
    mostOpen = open;
    const pooled = new Upstream(upstreamConfig('pooled', 'pooled.test', { url: new URL(origin), retries: { attempts: 1, minDelayMs: 0, maxDelayMs: 0 } }), {
      timeouts: { connect: 10_000, headers: 10_000, idle: 10_000 },
    });
    try {
      const fetches = Array.from({ length: connectionsPerOrigin + 6 }, (_, i) => pooled.fetch({ method: 'GET', path: `/v2/app/blobs/u${i}` }));
      await until(async () => (held.length >= connectionsPerOrigin ? true : undefined), 10_000, 10);
      await sleep(500);
      assert.equal(held.length, connectionsPerOrigin);
      for (const h of held) h.res.end(body);
      await until(async () => (held.length === connectionsPerOrigin + 6 ? true : undefined), 10_000, 10);
      for (const h of held.slice(connectionsPerOrigin)) h.res.end(body);
      for (const res of await Promise.all(fetches)) await res.body.dump();
    } finally {
      await pooled.close();
    }
  });
});
