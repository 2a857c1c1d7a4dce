// `pullgate config print|check` with `cache.storage: s3`: the secret access key is never printed, its file is
// shown by path, and the printout is itself a valid config.
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

describe('pullgate config with S3 storage', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'pullgate-cli-storage-'));
    const storage = (secret: string) =>
      ['cache:', '  storage:', '    type: s3', '    endpoint: http://127.0.0.1:7480', '    bucket: pullgate-cache', '    accessKeyId: PGKEY', `    ${secret}`, ''].join('\n');
    await writeFile(join(dir, 'inline.yaml'), storage('secretAccessKey: inline-s3-secret'));
    await writeFile(join(dir, 'file.yaml'), storage('secretAccessKeyFile: s3.secret'));
    await writeFile(join(dir, 's3.secret'), 'file-s3-secret\n');
    await writeFile(join(dir, 'missing.yaml'), storage('secretAccessKeyFile: nowhere.secret'));
  });
  after(() => rm(dir, { recursive: true, force: true }));

  test('config print redacts an inline secret access key and shows a secret file by absolute path, in YAML and JSON', async () => {
    for (const [file, json] of [['inline.yaml', false], ['inline.yaml', true], ['file.yaml', false]] as const) {
      const r = await run(['config', 'print', ...(json ? ['--json'] : []), join(dir, file)]);
      assert.equal(r.code, 0, r.stderr);
      assert.ok(!r.stdout.includes('inline-s3-secret') && !r.stdout.includes('file-s3-secret'), 'a secret was printed');
      const doc = (json ? JSON.parse(r.stdout) : parseYaml(r.stdout)) as { cache: { storage: Record<string, unknown> } };
      if (file === 'inline.yaml') assert.equal(doc.cache.storage['secretAccessKey'], 'REDACTED');
      else assert.equal(doc.cache.storage['secretAccessKeyFile'], join(dir, 's3.secret'));
      assert.equal(doc.cache.storage['bucket'], 'pullgate-cache');
      assert.equal(validateConfig(doc).cache.storage.type, 's3');
    }
  });

  test('config check names an unreadable secret file and exits 2', async () => {
    const r = await run(['config', 'check', join(dir, 'missing.yaml')]);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /cache\.storage\.secretAccessKeyFile: cannot read .*nowhere\.secret: ENOENT/);
  });
});
