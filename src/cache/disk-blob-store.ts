// Committed blobs on local disk: <dataDir>/blobs/<algorithm>/<first two hex>/<hex>. The two-character fan-out keeps
// directories small. Paths are built from a parsed digest only, never from anything a client sent as-is.
import type { Dirent } from 'node:fs';
import { mkdir, open, readdir, rename, stat, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { digestAlgorithm, digestHex, isDigestLike, parseDigest, type Digest } from '../registry/digest.js';
import { FileBody } from './file-body.js';
import { isNotFound } from './fs-errors.js';
import type { BlobStore, ByteSpan } from './ports.js';

/** A span the caller should have refused (the mirror answers 416 before it gets here): a programming error. */
export class BlobSpanError extends RangeError {
  readonly code = 'BLOB_SPAN_INVALID';
  constructor(readonly span: ByteSpan) {
    super(`invalid byte span ${span.start}-${span.end}`);
    this.name = 'BlobSpanError';
  }
}

const isValidSpan = ({ start, end }: ByteSpan): boolean =>
  Number.isSafeInteger(start) && Number.isSafeInteger(end) && start >= 0 && start <= end;

export class DiskBlobStore implements BlobStore {
  readonly root: string;

  constructor(dataDir: string) {
    this.root = join(dataDir, 'blobs');
  }

  /** Where `digest` lives. Re-parses the digest: a cast string must not become a path (`../`). */
  pathOf(digest: Digest): string {
    const checked = parseDigest(digest);
    const hex = digestHex(checked);
    return join(this.root, digestAlgorithm(checked), hex.slice(0, 2), hex);
  }

  async stat(digest: Digest): Promise<number | undefined> {
    try {
      return (await stat(this.pathOf(digest))).size;
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw err;
    }
  }

  async open(digest: Digest, span?: ByteSpan): Promise<Readable | undefined> {
    // Opening first turns "not stored" into undefined, and the open descriptor keeps the bytes readable even if
    // eviction unlinks the file while the stream is being sent.
    if (span && !isValidSpan(span)) throw new BlobSpanError(span);
    let handle;
    try {
      handle = await open(this.pathOf(digest), 'r');
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw err;
    }
    return new FileBody(handle, span?.start ?? 0, span?.end);
  }

  async commit(digest: Digest, tempPath: string): Promise<void> {
    const target = this.pathOf(digest);
    if ((await this.stat(digest)) !== undefined) {
      await unlink(tempPath);
      return;
    }
    // Data before name: fsync the file, rename, then fsync the directory so the new entry survives a power loss.
    const file = await open(tempPath, 'r+');
    try {
      await file.sync();
    } finally {
      await file.close();
    }
    const fanOut = join(target, '..');
    const created = await mkdir(fanOut, { recursive: true });
    await rename(tempPath, target);
    await syncDirectory(fanOut);
    if (created !== undefined) await syncDirectory(join(fanOut, '..'));
  }

  async remove(digest: Digest): Promise<void> {
    try {
      await unlink(this.pathOf(digest));
    } catch (err) {
      if (!isNotFound(err)) throw err;
    }
  }

  /** Walks the tree; anything that is not a well-placed digest file (stray names, wrong fan-out) is skipped. */
  async *list(): AsyncIterable<{ digest: Digest; size: number }> {
    for (const algorithm of await entries(this.root)) {
      if (!algorithm.isDirectory()) continue;
      for (const fanOut of await entries(join(this.root, algorithm.name))) {
        if (!fanOut.isDirectory()) continue;
        for (const file of await entries(join(this.root, algorithm.name, fanOut.name))) {
          const name = `${algorithm.name}:${file.name}`;
          if (!file.isFile() || !isDigestLike(name)) continue;
          let digest: Digest;
          try {
            digest = parseDigest(name);
          } catch {
            continue;
          }
          if (digestHex(digest).slice(0, 2) !== fanOut.name) continue;
          const size = await this.stat(digest);
          if (size !== undefined) yield { digest, size };
        }
      }
    }
  }
}

async function entries(dir: string): Promise<Dirent[]> {
  try {
    return (await readdir(dir, { withFileTypes: true })).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  } catch (err) {
    if (isNotFound(err)) return [];
    throw err;
  }
}

async function syncDirectory(dir: string): Promise<void> {
  const handle = await open(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}
