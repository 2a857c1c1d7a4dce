// `cluster`: off unless configured; needs the S3 storage, an advertised address and a shared secret of real length
// (from the value, a file or the environment), each problem reported by its path; the secret never printed.
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { stringify } from 'yaml';
import { parse } from 'yaml';
import { printedConfig } from '../../../src/cli/config-print.js';
import { configFromObject, ConfigError, loadConfig, validateConfig } from '../../../src/config/load.js';
import { problemsOf } from './config-problems.js';

const secret = 'a'.repeat(64);
const s3 = { cache: { storage: { type: 's3', bucket: 'pullgate-cache' } } };
const withCluster = (cluster: Record<string, unknown>, base: Record<string, unknown> = s3) => ({ ...base, cluster });

describe('cluster', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'pullgate-cluster-config-'));
  });
  after(() => rm(dir, { recursive: true, force: true }));

  it('is off unless configured', () => assert.equal(validateConfig(s3).cluster, undefined));

  it('gets its defaults: the internal endpoint on :5002 and a 30 s lease', async () => {
    const c = await configFromObject(withCluster({ advertise: 'http://10.0.0.5:5002/', secret }), dir);
    assert.deepEqual(c.cluster, { listen: ':5002', advertise: 'http://10.0.0.5:5002', secret, leaseTtlMs: 30_000 });
  });

  it('refuses a cluster without S3 storage, without a secret, with both secret forms, or a bad address or TTL', async () => {
    assert.match(problemsOf(withCluster({ advertise: 'http://a:5002', secret }, {})).join('\n'), /^cluster: replicas share their cache through a bucket/m);
    assert.match(problemsOf(withCluster({ advertise: 'http://a:5002' })).join('\n'), /cluster\.secret: the replicas need a shared secret/);
    assert.match(problemsOf(withCluster({ advertise: 'http://a:5002', secret, secretFile: 'x' })).join('\n'), /cluster\.secretFile: give secret or secretFile, not both/);
    const advertiseHint = 'cluster.advertise: how the other replicas reach this one: an http:// or https:// URL, e.g. http://10.0.0.5:5002 (or PULLGATE_CLUSTER_ADVERTISE)';
    assert.deepEqual(problemsOf(withCluster({ secret })), [advertiseHint]);
    assert.deepEqual(problemsOf(withCluster({ advertise: 'ftp://a:5002', secret })), [advertiseHint]);
    assert.match(problemsOf(withCluster({ advertise: 'http://a:5002/path', secret })).join('\n'), /cluster\.advertise: scheme, host and port only/);
    assert.match(problemsOf(withCluster({ advertise: 'http://a:5002', secret, leaseTtl: '100ms' })).join('\n'), /cluster\.leaseTtl: expected a duration from 1s to 10m/);
    assert.match(problemsOf(withCluster({ advertise: 'http://a:5002', secret, listen: 'nope' })).join('\n'), /cluster\.listen/);
    await assert.rejects(configFromObject(withCluster({ advertise: 'http://a:5002', secret: 'short' }), dir), (err: unknown) => {
      assert.ok(err instanceof ConfigError);
      assert.match(err.problems.join('\n'), /cluster\.secret: at least 32 characters/);
      return true;
    });
  });

  it('reads the secret from its file (one trailing newline dropped) and refuses a short or missing one', async () => {
    await writeFile(join(dir, 'cluster-secret'), `${secret}\n`);
    const c = await configFromObject(withCluster({ advertise: 'http://a:5002', secretFile: 'cluster-secret' }), dir);
    assert.equal(c.cluster?.secret, secret);
    await writeFile(join(dir, 'short-secret'), 'tiny\n');
    await assert.rejects(configFromObject(withCluster({ advertise: 'http://a:5002', secretFile: 'short-secret' }), dir), /cluster\.secretFile: .*fewer than 32 characters/);
    await assert.rejects(configFromObject(withCluster({ advertise: 'http://a:5002', secretFile: 'missing' }), dir), /cluster\.secretFile: cannot read .*ENOENT/);
  });

  it('takes the advertised address, listen address and secret from the environment (a pod IP), the env secret over a file', async () => {
    const file = join(dir, 'env.yaml');
    await writeFile(file, stringify({ ...s3, cluster: { secretFile: 'missing-file' } }));
    const c = await loadConfig({
      file,
      env: { PULLGATE_CLUSTER_ADVERTISE: 'http://10.1.2.3:5002', PULLGATE_CLUSTER_LISTEN: ':6002', PULLGATE_CLUSTER_SECRET: secret },
    });
    assert.deepEqual(c.cluster, { listen: ':6002', advertise: 'http://10.1.2.3:5002', secret, leaseTtlMs: 30_000 });
  });

  it('config print shows the cluster block with the secret redacted, and the output is a valid document', async () => {
    const file = join(dir, 'print.yaml');
    await writeFile(file, stringify({ ...s3, cluster: { advertise: 'http://a:5002', secret, leaseTtl: 45 } }));
    const printed = await printedConfig({ file, env: {} });
    assert.doesNotMatch(printed, new RegExp(secret));
    assert.match(printed, /cluster:\n(?:\s+.*\n)*?\s+leaseTtl: 45s/);
    assert.equal((validateConfig(parse(printed)).cluster?.secret), 'REDACTED');
  });
});
