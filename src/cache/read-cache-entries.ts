// What the local read cache holds (read-cache-blob-store.ts): digest -> size, least recently used first, and the
// eviction rule: once the total passes the cap, the least recently used copies go until it is at the low-water
// mark, so that eviction runs in batches. Rebuilt from the directory at start (oldest modification time first).
import type { Dirent } from 'node:fs';
import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { digestAlgorithm, digestHex, isDigestLike, parseDigest, type Digest } from '../registry/digest.js';
import { isNotFound } from './fs-errors.js';

export class ReadCacheEntries {
  // A Map iterates in insertion order: re-inserting on use keeps the least recently used first.
  private readonly sizes = new Map<Digest, number>();
  private total = 0;

  constructor(
    readonly maxBytes: number,
    readonly lowWaterBytes: number,
  ) {}

  get bytes(): number {
    return this.total;
  }

  get count(): number {
    return this.sizes.size;
  }

  size(digest: Digest): number | undefined {
    return this.sizes.get(digest);
  }

  /** Marks a copy as just used. */
  touch(digest: Digest): void {
    const size = this.sizes.get(digest);
    if (size === undefined) return;
    this.sizes.delete(digest);
    this.sizes.set(digest, size);
  }

  /** Whether a blob of this size may be kept at all. */
  fits(size: number): boolean {
    return size <= this.lowWaterBytes;
  }

  /** Records a new copy; returns the copies to delete to get back under the cap (never the one just added). */
  add(digest: Digest, size: number): Digest[] {
    this.delete(digest);
    this.sizes.set(digest, size);
    this.total += size;
    if (this.total <= this.maxBytes) return [];
    const victims: Digest[] = [];
    for (const [victim, victimSize] of this.sizes) {
      if (this.total <= this.lowWaterBytes) break;
      if (victim === digest) continue;
      victims.push(victim);
      this.sizes.delete(victim);
      this.total -= victimSize;
    }
    return victims;
  }

  delete(digest: Digest): boolean {
    const size = this.sizes.get(digest);
    if (size === undefined) return false;
    this.sizes.delete(digest);
    this.total -= size;
    return true;
  }
}

/** `<dir>/<algorithm>/<2 hex>/<hex>`: the same layout as the disk store, built from a parsed digest only. */
export function copyPath(dir: string, digest: Digest): string {
  const checked = parseDigest(digest);
  const hex = digestHex(checked);
  return join(dir, digestAlgorithm(checked), hex.slice(0, 2), hex);
}

/** Every well-placed copy under `dir`, oldest first; stray names are left alone (and never served). */
export async function scanCopies(dir: string): Promise<Array<{ digest: Digest; size: number }>> {
  const found: Array<{ digest: Digest; size: number; mtimeMs: number }> = [];
  for (const algorithm of await entries(dir)) {
    if (!algorithm.isDirectory()) continue;
    for (const fanOut of await entries(join(dir, algorithm.name))) {
      if (!fanOut.isDirectory()) continue;
      for (const file of await entries(join(dir, algorithm.name, fanOut.name))) {
        const name = `${algorithm.name}:${file.name}`;
        if (!file.isFile() || !isDigestLike(name) || file.name.slice(0, 2) !== fanOut.name) continue;
        let digest: Digest;
        try {
          digest = parseDigest(name);
        } catch {
          continue;
        }
        const info = await stat(join(dir, algorithm.name, fanOut.name, file.name)).catch(() => undefined);
        if (info) found.push({ digest, size: info.size, mtimeMs: info.mtimeMs });
      }
    }
  }
  return found.sort((a, b) => a.mtimeMs - b.mtimeMs).map(({ digest, size }) => ({ digest, size }));
}

async function entries(dir: string): Promise<Dirent[]> {
  try {
    return await readdir(dir, { withFileTypes: true });
  } catch (err) {
    if (isNotFound(err)) return [];
    throw err;
  }
}
