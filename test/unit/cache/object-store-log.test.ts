// The object store's log lines name their component once (src/app/cache.ts, src/cache/s3-blob-storage.ts): a line
// with `component` twice is JSON whose consumers keep one or the other. The store is a bucket whose endpoint
// refuses connections, so the start's bucket check fails and logs.
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { wireBase } from '../../../src/app/base.js';
import { wireCache } from '../../../src/app/cache.js';
import { configFromObject } from '../../../src/config/load.js';
import { createLogger } from '../../../src/logger.js';

test('a failed bucket check is logged with one component field, the object store\'s', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'pullgate-object-store-log-'));
  try {
    const storage = { type: 's3', bucket: 'pullgate-cache', endpoint: 'http://127.0.0.1:9', forcePathStyle: true, accessKeyId: 'k', secretAccessKey: 's' };
    const config = await configFromObject({ dataDir: dir, cache: { storage } }, dir);
    const lines: string[] = [];
    const base = await wireBase(config, { log: createLogger('info', { write: (s: string) => void lines.push(s) }) });
    await assert.rejects(wireCache(base));
    const failed = lines.find((l) => l.includes('"operation":"HeadBucket"'));
    assert.ok(failed, lines.join(''));
    assert.equal(failed.match(/"component":/g)?.length, 1, failed);
    assert.equal((JSON.parse(failed) as { component: string }).component, 'object-store');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
