import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { DiskTempFiles } from '../../../src/cache/temp-files.js';
import { tempDirs } from './cache-fixtures.js';

const dirs = tempDirs();
after(() => dirs.removeAll());

describe('DiskTempFiles', () => {
  it('creates distinct empty files under <dataDir>/tmp', async () => {
    const dir = await dirs.make();
    const temp = new DiskTempFiles(dir);
    const [a, b] = await Promise.all([temp.create(), temp.create()]);
    assert.notEqual(a, b);
    assert.equal(temp.dir, join(dir, 'tmp'));
    assert.deepEqual((await readdir(temp.dir)).sort(), [a, b].map((p) => p.slice(temp.dir.length + 1)).sort());
    assert.equal((await readFile(a)).length, 0);
  });

  it('clean removes every leftover, files and directories, and counts them', async () => {
    const temp = new DiskTempFiles(await dirs.make());
    await writeFile(await temp.create(), 'partial fill');
    await temp.create();
    await mkdir(join(temp.dir, 'stray-dir', 'inner'), { recursive: true });
    assert.equal(await temp.clean(), 3);
    assert.deepEqual(await readdir(temp.dir), []);
    assert.equal(await temp.clean(), 0);
  });

  it('clean before the directory exists removes nothing', async () => {
    assert.equal(await new DiskTempFiles(await dirs.make()).clean(), 0);
  });
});
