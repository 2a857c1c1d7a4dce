// Scratch files for fills, under <dataDir>/tmp: the same filesystem as the blobs, so a commit is an atomic rename.
import { randomUUID } from 'node:crypto';
import { mkdir, open, readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { isNotFound } from './fs-errors.js';
import type { TempFiles } from './ports.js';

export class DiskTempFiles implements TempFiles {
  readonly dir: string;

  constructor(dataDir: string) {
    this.dir = join(dataDir, 'tmp');
  }

  async create(): Promise<string> {
    await mkdir(this.dir, { recursive: true });
    // Named after the process: the supervisor removes a dead worker's files (docs/workers.md).
    const path = join(this.dir, `${process.pid}-${randomUUID()}.part`);
    // 'wx': a name collision fails loudly instead of two fills sharing one file.
    const handle = await open(path, 'wx');
    await handle.close();
    return path;
  }

  /** Removes everything in the directory: only a fill in this process may own a temp file, so call it at startup. */
  async clean(): Promise<number> {
    let names: string[];
    try {
      names = await readdir(this.dir);
    } catch (err) {
      if (isNotFound(err)) return 0;
      throw err;
    }
    await Promise.all(names.map((name) => rm(join(this.dir, name), { recursive: true, force: true })));
    return names.length;
  }
}
