// `cache.storage`: the disk by default; an S3 bucket with its defaults, every bad value refused by its path, the
// secret read from its file at load and never printed.
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { configFromObject, ConfigError, validateConfig } from '../../../src/config/load.js';
import { problemsOf } from './config-problems.js';

const s3 = (extra: Record<string, unknown> = {}) => ({ cache: { storage: { type: 's3', bucket: 'pullgate-cache', ...extra } } });


describe('cache.storage', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'pullgate-storage-config-'));
  });
  after(() => rm(dir, { recursive: true, force: true }));

  it('is the local disk unless configured', () => assert.deepEqual(validateConfig({}).cache.storage, { type: 'disk' }));

  it('an S3 bucket gets its defaults: us-east-1, no prefix, virtual-host style, 16 MiB threshold, 8 MiB parts', () => {
    assert.deepEqual(validateConfig(s3()).cache.storage, {
      type: 's3',
      bucket: 'pullgate-cache',
      region: 'us-east-1',
      prefix: '',
      forcePathStyle: false,
      multipartThreshold: 16 * 2 ** 20,
      partSize: 8 * 2 ** 20,
      redirect: false,
      redirectTtl: 20 * 60_000,
    });
  });

  it('refuses a bad bucket name, prefix, endpoint, part size or storage type, each by its path', () => {
    assert.match(problemsOf(s3({ bucket: 'Bad_Bucket' })).join('\n'), /cache\.storage\.bucket: an S3 bucket name/);
    assert.match(problemsOf(s3({ prefix: '/abs/' })).join('\n'), /cache\.storage\.prefix: empty, or like "pullgate\/"/);
    assert.match(problemsOf(s3({ prefix: 'no-slash' })).join('\n'), /cache\.storage\.prefix/);
    assert.match(problemsOf(s3({ endpoint: 'ftp://s3.example' })).join('\n'), /cache\.storage\.endpoint/);
    assert.match(problemsOf(s3({ partSize: '1MiB' })).join('\n'), /cache\.storage\.partSize: .*at least 5242880 bytes/);
    assert.match(problemsOf({ cache: { storage: { type: 'nfs' } } }).join('\n'), /cache\.storage\.type/);
    assert.match(problemsOf({ cache: { storage: { type: 's3' } } }).join('\n'), /cache\.storage\.bucket/);
    assert.match(problemsOf(s3({ bukket: 'typo' })).join('\n'), /bukket/);
  });

  it('wants a secret with an access key id, a key id with a secret, and not both secret forms', () => {
    assert.match(problemsOf(s3({ accessKeyId: 'AK' })).join('\n'), /cache\.storage\.accessKeyId: accessKeyId needs secretAccessKey or secretAccessKeyFile/);
    assert.match(problemsOf(s3({ secretAccessKey: 'sk' })).join('\n'), /cache\.storage\.accessKeyId: a secret access key needs its accessKeyId/);
    assert.match(
      problemsOf(s3({ accessKeyId: 'AK', secretAccessKey: 'sk', secretAccessKeyFile: 'f' })).join('\n'),
      /cache\.storage\.secretAccessKeyFile: give secretAccessKey or secretAccessKeyFile, not both/,
    );
  });

  it('reads secretAccessKeyFile relative to the config, without its trailing newline, and drops the path', async () => {
    await writeFile(join(dir, 's3-secret'), 'file-secret-value\n');
    const c = await configFromObject(s3({ accessKeyId: 'AK', secretAccessKeyFile: 's3-secret' }), dir);
    assert.equal(c.cache.storage.type, 's3');
    assert.deepEqual(c.cache.storage.type === 's3' ? [c.cache.storage.accessKeyId, c.cache.storage.secretAccessKey] : [], ['AK', 'file-secret-value']);
    assert.equal('secretAccessKeyFile' in c.cache.storage, false);
  });

  it('names an unreadable or empty secret file in a configuration error', async () => {
    await assert.rejects(configFromObject(s3({ accessKeyId: 'AK', secretAccessKeyFile: 'missing' }), dir), (err: unknown) => {
      assert.ok(err instanceof ConfigError);
      assert.match(err.problems.join('\n'), /cache\.storage\.secretAccessKeyFile: cannot read .*missing: ENOENT/);
      return true;
    });
    await writeFile(join(dir, 'empty'), '\n');
    await assert.rejects(configFromObject(s3({ accessKeyId: 'AK', secretAccessKeyFile: 'empty' }), dir), /is empty/);
  });
});
