// What a config reload applies live and what waits for a restart (src/live-config.ts).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Config } from '../../src/config/config.js';
import { configFromObject } from '../../src/config/load.js';
import { compareConfigs } from '../../src/live-config.js';

const base = {
  listen: { http: ':5000' },
  dataDir: '/var/lib/pullgate',
  upstreams: [
    { name: 'hub', registry: 'docker.io', url: 'https://registry-1.docker.io', default: true },
    { name: 'gcr', registry: 'gcr.io', url: 'https://gcr.io' },
  ],
};
const load = (patch: Record<string, unknown> = {}): Promise<Config> => configFromObject({ ...base, ...patch }, '/etc/pullgate');

describe('compareConfigs', () => {
  it('the same configuration changes nothing', async () => {
    const c = compareConfigs(await load(), await load());
    assert.deepEqual(c.upstreams, { changed: [], removed: [], reordered: false });
    assert.equal(c.logLevel, false);
    assert.equal(c.cache, false);
    assert.deepEqual(c.restartNeeded, []);
  });

  it('a changed upstream setting rebuilds that upstream only; a new one is built; a missing one is removed', async () => {
    const next = await load({
      upstreams: [
        { ...base.upstreams[0], tagTtl: '1m' },
        { name: 'quay', registry: 'quay.io', url: 'https://quay.io' },
      ],
    });
    assert.deepEqual(compareConfigs(await load(), next).upstreams, { changed: ['hub', 'quay'], removed: ['gcr'], reordered: true });
  });

  it('changed upstream timeouts rebuild every upstream; keep-alive needs a restart', async () => {
    const c = compareConfigs(await load(), await load({ timeouts: { connect: '5s', keepAlive: '30s' } }));
    assert.deepEqual(c.upstreams.changed, ['hub', 'gcr']);
    assert.deepEqual(c.restartNeeded, ['timeouts.keepAlive']);
    assert.equal(c.effective.timeouts.connect, 5_000);
    assert.equal(c.effective.timeouts.keepAlive, 120_000, 'the running keep-alive stays in effect');
  });

  it('listeners, data directory, certificates, public URL and fill idle timeout wait for a restart and keep their running values', async () => {
    const next = await load({
      listen: { http: ':6000' },
      dataDir: '/srv/pullgate',
      publicUrl: 'https://mirror.example.com',
      cache: { fillIdleTimeout: '10s' },
      tls: { certificates: [{ cert: 'c.pem', key: 'k.pem' }] },
    });
    const c = compareConfigs(await load(), next);
    assert.deepEqual(c.restartNeeded.sort(), ['cache.fillIdleTimeout', 'dataDir', 'listen', 'publicUrl', 'tls']);
    assert.deepEqual(c.effective.listen, { http: ':5000' });
    assert.equal(c.effective.dataDir, '/var/lib/pullgate');
    assert.equal(c.effective.publicUrl, undefined);
    assert.deepEqual(c.effective.tls.certificates, []);
    assert.equal(c.effective.cache.fillIdleTimeout, 60_000);
  });

  it('log level, cache cap and pins, and shutdown grace apply live', async () => {
    const c = compareConfigs(await load(), await load({ log: { level: 'warn' }, cache: { maxSize: '1GiB', pins: ['hub/library/*'] }, shutdownGrace: '5s' }));
    assert.equal(c.logLevel, true);
    assert.equal(c.cache, true);
    assert.deepEqual(c.restartNeeded, []);
    assert.equal(c.effective.cache.maxSize, 2 ** 30);
    assert.equal(c.effective.shutdownGrace, 5_000);
  });

  it('a changed log format waits for a restart: the log stream is made when the process starts', async () => {
    const c = compareConfigs(await load({ log: { format: 'json' } }), await load({ log: { level: 'debug', format: 'pretty' } }));
    assert.deepEqual(c.restartNeeded, ['log.format']);
    assert.deepEqual(c.effective.log, { level: 'debug', format: 'json' });
    assert.deepEqual(compareConfigs(await load(), await load()).effective.log, { level: 'info' }, 'an unset format stays unset');
  });

  it('a changed number of workers waits for a restart and keeps its running value', async () => {
    const c = compareConfigs(await load({ workers: 2 }), await load({ workers: 3 }));
    assert.deepEqual(c.restartNeeded, ['workers']);
    assert.equal(c.effective.workers, 2);
  });
});
