// The watch webhook (docs/watch.md): a local receiver gets one JSON POST per watched tag that moves, naming the
// upstream, repository, tag and both digests; a tag that did not move sends nothing; a receiver that refuses or is
// gone never fails the run. The mirror runs over an in-process fake registry.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import { after, before, describe, test } from 'node:test';
import { configFromObject } from '../../src/config/load.js';
import type { Timer } from '../../src/watch/watch-scheduler.js';
import { FakeUpstream } from '../support/fake/fake-upstream.js';
import { startMirror, type TestMirror } from '../support/mirror-app.js';
import { until } from '../support/until.js';

const manualTimer: Timer = { set: () => undefined, clear: () => undefined };

interface Received {
  method: string;
  contentType: string;
  body: Record<string, unknown>;
}

describe('the watch webhook', () => {
  let hub: FakeUpstream;
  let mirror: TestMirror;
  let receiver: Server;
  let receiverUrl: string;
  let status = 204;
  const received: Received[] = [];
  const entry = 'hub/team/app:1.0';

  before(async () => {
    receiver = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        received.push({ method: req.method ?? '', contentType: String(req.headers['content-type']), body: JSON.parse(Buffer.concat(chunks).toString('utf8')) as Record<string, unknown> });
        res.writeHead(status).end();
      });
    });
    await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
    receiverUrl = `http://127.0.0.1:${(receiver.address() as { port: number }).port}/hooks/pullgate`;
    hub = await new FakeUpstream().start();
    hub.addImage('team/app', '1.0', [randomBytes(3000)]);
    mirror = await startMirror(
      { upstreams: [{ name: 'hub', registry: 'docker.io', url: hub.url, default: true, watchWebhook: receiverUrl, watch: [{ repository: 'team/app', tags: ['1.0'], every: '1h' }] }] },
      { watchTimer: manualTimer },
    );
  });

  after(async () => {
    await mirror?.close();
    await hub?.stop();
    await new Promise((r) => receiver?.close(r));
  });

  const runNow = () => mirror.app.watch.scheduler.runNow(entry);

  test('the first run and every move POST one JSON event; an unmoved tag sends none', async () => {
    const first = hub.manifests.get('team/app')?.get('1.0')?.digest;
    assert.equal((await runNow()).result, 'ok');
    await until(async () => (received.length >= 1 ? true : undefined), 5_000, 10);
    assert.equal(received[0]?.method, 'POST');
    assert.equal(received[0]?.contentType, 'application/json');
    const body = received[0]?.body ?? {};
    assert.equal(body['event'], 'watch.tag-moved');
    assert.deepEqual([body['entry'], body['upstream'], body['repository'], body['tag'], body['to']], [entry, 'hub', 'team/app', '1.0', first]);
    assert.equal(body['from'], undefined, 'nothing before the first run');
    assert.ok(Number(body['bytesFetched']) >= 3000);
    assert.ok(!Number.isNaN(Date.parse(String(body['at']))));

    assert.equal((await runNow()).changed, 0);
    const moved = hub.addImage('team/app', '1.0', [randomBytes(4000)]);
    assert.equal((await runNow()).changed, 1);
    await until(async () => (received.length >= 2 ? true : undefined), 5_000, 10);
    assert.equal(received.length, 2, 'the unmoved run sent nothing');
    assert.equal(received[1]?.body['from'], first);
    assert.equal(received[1]?.body['to'], moved.digest);
  });

  test('a receiver that refuses never fails the run; the log says so', async () => {
    status = 500;
    hub.addImage('team/app', '1.0', [randomBytes(5000)]);
    const r = await runNow();
    assert.equal(r.result, 'ok');
    assert.equal(r.changed, 1);
    const line = await until(async () => mirror.logs.find((l) => l.includes('watch webhook refused the event')), 5_000, 10);
    assert.match(line, /"status":500/);
  });

  test('a webhook is an http(s) URL: another scheme is a config error', async () => {
    const ok = await configFromObject({ dataDir: '/tmp/unused', upstreams: [{ name: 'hub', registry: 'docker.io', url: hub.url, watchWebhook: 'https://hooks.example/x' }] }, '/tmp');
    assert.equal(ok.upstreams[0]?.watchWebhook, 'https://hooks.example/x');
    await assert.rejects(
      configFromObject({ dataDir: '/tmp/unused', upstreams: [{ name: 'hub', registry: 'docker.io', url: hub.url, watchWebhook: 'ftp://hooks.example/x' }] }, '/tmp'),
      (err: Error & { problems?: string[] }) => /watchWebhook/.test(`${err.message} ${(err.problems ?? []).join(' ')}`),
    );
  });
});
