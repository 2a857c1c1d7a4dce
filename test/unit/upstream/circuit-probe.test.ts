// A half-open circuit lets exactly one probe through, whatever requests sent before it opened do meanwhile: a
// real HTTP server on port 0 holds every request until the test answers it, and counts what reached it.
import assert from 'node:assert/strict';
import { createServer, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { request } from 'undici';
import { CircuitBreaker } from '../../../src/upstream/circuit-breaker.js';
import { fetchWithFailover } from '../../../src/upstream/failover.js';
import type { UpstreamEndpoint } from '../../../src/upstream/upstream-endpoint.js';
import { UpstreamHealth } from '../../../src/upstream/upstream-health.js';
import type { UpstreamResponse } from '../../../src/upstream/exchange.js';
import { until } from '../../support/until.js';

const reaching = (count: () => number, n: number) => until(async () => (count() >= n ? true : undefined), 5_000, 5);

describe('a half-open circuit under concurrent requests', () => {
  const held: ServerResponse[] = [];
  let reached = 0;
  const server = createServer((_req, res) => {
    reached++;
    held.push(res);
  });
  let url = '';
  before(async () => {
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
  });
  after(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });

  /** One endpoint (failures 1, open 1 s) and a way to send a request through it, each with its own client signal. */
  function setup() {
    for (const res of held.splice(0)) res.destroy();
    reached = 0;
    let now = 1_000_000;
    const breaker = new CircuitBreaker({ failures: 1, openForMs: 1000 }, () => now);
    const endpoint = { breaker, shown: url } as unknown as UpstreamEndpoint;
    const send = () => {
      const client = new AbortController();
      const answer = fetchWithFailover(
        [endpoint],
        async (): Promise<UpstreamResponse> => {
          const res = await request(url, { signal: client.signal });
          return { status: res.statusCode, headers: res.headers, body: res.body, url: new URL(url) };
        },
        {
          upstream: 'hub',
          retries: { attempts: 1, minDelayMs: 0, maxDelayMs: 0 },
          health: new UpstreamHealth(() => now),
          clock: () => now,
          sleep: async () => undefined,
          random: () => 0,
          signal: client.signal,
        },
      ).then(
        (res) => ({ status: res.status }),
        (err: Error & { code?: unknown }) => ({ error: err.name === 'AbortError' ? 'AbortError' : String(err.code) }),
      );
      return { answer, leave: () => client.abort() };
    };
    return { breaker, send, advance: (ms: number) => (now += ms) };
  }

  /** The request's outcome, or `sent` as soon as it reaches the server beside the probe (held there otherwise). */
  const refusedOrSent = <T,>(outcome: Promise<T>) => Promise.race([outcome, reaching(() => reached, 4).then(() => ({ error: 'sent upstream beside the probe' }))]);

  /** Answers the request that reached the server `nth` (from 0) in this test. */
  const answer = (nth: number, status: number) => {
    const res = held[nth];
    assert.ok(res, `request ${nth} is waiting at the server`);
    res.writeHead(status).end();
  };

  it('a request sent before the circuit opened and abandoned during the probe does not let a second probe through', async () => {
    const { breaker, send, advance } = setup();
    const a = send();
    const b = send();
    await reaching(() => reached, 2);
    answer(0, 503);
    assert.deepEqual(await a.answer, { status: 503 });
    assert.equal(breaker.state, 'open');
    advance(1000);
    const probe = send();
    await reaching(() => reached, 3);
    b.leave(); // its client left: no verdict on the URL, and no probe slot either
    assert.deepEqual(await b.answer, { error: 'AbortError' });
    const others = [send(), send(), send()];
    for (const o of others) assert.deepEqual(await refusedOrSent(o.answer), { error: 'UNAVAILABLE' }, 'refused at once while the probe runs');
    assert.equal(reached, 3, 'only the probe reached the upstream');
    answer(2, 200);
    assert.deepEqual(await probe.answer, { status: 200 });
    assert.equal(breaker.state, 'closed');
  });

  it('a late answer to a request sent before the circuit opened is no verdict on the probe', async () => {
    const { breaker, send, advance } = setup();
    const a = send();
    const b = send();
    await reaching(() => reached, 2);
    answer(0, 503);
    await a.answer;
    advance(1000);
    const probe = send();
    await reaching(() => reached, 3);
    // b (sent while closed) fails now: the circuit stays half-open with its one probe out.
    answer(1, 503);
    assert.deepEqual(await b.answer, { status: 503 });
    const other = send();
    assert.deepEqual(await refusedOrSent(other.answer), { error: 'UNAVAILABLE' });
    assert.equal(reached, 3);
    answer(2, 200);
    assert.deepEqual(await probe.answer, { status: 200 });
    assert.equal(breaker.state, 'closed');
  });
});
