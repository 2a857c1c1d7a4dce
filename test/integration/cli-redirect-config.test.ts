// `pullgate config print` with `cache.storage.redirect`: the TTL is printed as a duration ("90m"), so the printout
// reads back to the same TTL (a bare number in a config file means seconds, not the milliseconds held inside).
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { parse as parseYaml } from 'yaml';
import { validateConfig } from '../../src/config/load.js';
import { mainScript } from '../support/mirror-process.js';

function run(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, ['--import', 'tsx', mainScript, ...args], (err, stdout, stderr) => {
      resolve({ code: err ? Number((err as { code?: unknown }).code ?? 1) : 0, stdout, stderr });
    });
  });
}

describe('pullgate config with blob redirects', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'pullgate-cli-redirect-'));
    const lines = ['cache:', '  storage:', '    type: s3', '    bucket: pullgate-cache', '    redirect: true', '    redirectTtl: 90m', '    redirectEndpoint: https://s3.example.com', ''];
    await writeFile(join(dir, 'redirect.yaml'), lines.join('\n'));
    await writeFile(join(dir, 'bad.yaml'), lines.join('\n').replace('90m', '8d'));
  });
  after(() => rm(dir, { recursive: true, force: true }));

  test('config print writes redirectTtl as "90m" and its output reads back to the same redirect settings', async () => {
    const r = await run(['config', 'print', join(dir, 'redirect.yaml')]);
    assert.equal(r.code, 0, r.stderr);
    const doc = parseYaml(r.stdout) as { cache: { storage: Record<string, unknown> } };
    assert.deepEqual([doc.cache.storage['redirect'], doc.cache.storage['redirectTtl'], doc.cache.storage['redirectEndpoint']], [true, '90m', 'https://s3.example.com']);
    const again = validateConfig(doc).cache.storage;
    assert.deepEqual(again.type === 's3' ? [again.redirect, again.redirectTtl] : [], [true, 90 * 60_000]);
  });

  test('config check refuses a TTL beyond 7 days by its path and exits 2', async () => {
    const r = await run(['config', 'check', join(dir, 'bad.yaml')]);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /cache\.storage\.redirectTtl: a duration in whole seconds from 1m to 7d/);
  });
});
