// `workers`: 1 unless configured, `auto` for one per core, together with `cluster` (the machine is one replica);
// tls-alpn-01 challenges are answered by every worker (docs/workers.md).
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { configFromObject, validateConfig } from '../../../src/config/load.js';
import { problemsOf } from './config-problems.js';

describe('workers', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'pullgate-workers-config-'));
  });
  after(() => rm(dir, { recursive: true, force: true }));

  it('is one process unless configured', async () => assert.equal((await configFromObject({}, dir)).workers, 1));

  it('takes a number, or auto for one per core', async () => {
    assert.equal((await configFromObject({ workers: 3 }, dir)).workers, 3);
    assert.equal((await configFromObject({ workers: 'auto' }, dir)).workers, availableParallelism());
  });

  it('refuses zero, fractions, words other than auto and quoted numbers, saying what it takes', () => {
    for (const workers of [0, 1.5, 'all', -2, 300, '2', null]) {
      assert.deepEqual(problemsOf({ workers }), ['workers: expected a whole number from 1 to 256, or auto'], String(workers));
    }
  });

  it('takes tls-alpn-01 challenges with several workers', () => {
    const acme = { listen: { https: ':443' }, tls: { acme: { email: 'ops@example.com', termsAgreed: true, challenge: 'tls-alpn-01', hosts: ['mirror.example.com'] } } };
    assert.equal(validateConfig({ ...acme, workers: 2 }).workers, 2);
  });

  it('goes together with a cluster: the machine is one replica served by its workers', async () => {
    const cluster = {
      cache: { storage: { type: 's3', bucket: 'pullgate-cache', region: 'us-east-1' } },
      cluster: { advertise: 'http://10.0.0.5:5002', secret: 's'.repeat(64) },
    };
    const two = validateConfig({ ...cluster, workers: 2 });
    assert.equal(two.workers, 2);
    assert.equal(two.cluster?.advertise, 'http://10.0.0.5:5002');
    const auto = await configFromObject({ ...cluster, workers: 'auto' }, dir);
    assert.equal(auto.workers, availableParallelism());
    assert.equal(auto.cluster?.advertise, 'http://10.0.0.5:5002');
  });
});
