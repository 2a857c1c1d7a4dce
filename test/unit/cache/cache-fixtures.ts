// Shared pieces for the cache unit tests: temp data directories, a hand-moved clock, content-addressed test
// blobs, and images written into a real index (and, when asked, a real blob store).
import { createHash } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLogger } from '../../../src/logger.js';
import { parseDigest, type Digest } from '../../../src/registry/digest.js';
import { openDatabase, type CacheDatabase } from '../../../src/cache/db.js';
import { SqliteCacheIndex } from '../../../src/cache/sqlite-cache-index.js';
import { DiskBlobStore } from '../../../src/cache/disk-blob-store.js';
import { DiskTempFiles } from '../../../src/cache/temp-files.js';

export const sha256 = (content: string | Buffer): Digest =>
  parseDigest(`sha256:${createHash('sha256').update(content).digest('hex')}`);

/** A clock the test moves by hand. */
export function manualClock(start = 1_000_000): { now: () => number; advance: (ms: number) => void; set: (t: number) => void } {
  let t = start;
  return { now: () => t, advance: (ms) => void (t += ms), set: (v) => void (t = v) };
}

/** Temp directories made by a test file, removed by its `after`. */
export function tempDirs(): { make: () => Promise<string>; removeAll: () => Promise<void> } {
  const made: string[] = [];
  return {
    make: async () => {
      const dir = await mkdtemp(join(tmpdir(), 'pullgate-cache-'));
      made.push(dir);
      return dir;
    },
    removeAll: async () => {
      await Promise.all(made.splice(0).map((dir) => rm(dir, { recursive: true, force: true })));
    },
  };
}

export interface IndexFixture {
  dir: string;
  db: CacheDatabase;
  index: SqliteCacheIndex;
  clock: ReturnType<typeof manualClock>;
  close: () => void;
}

export async function openIndex(dirs: ReturnType<typeof tempDirs>, flushIntervalMs = 60_000): Promise<IndexFixture> {
  const dir = await dirs.make();
  const db = openDatabase(join(dir, 'cache.db'));
  const clock = manualClock();
  const index = new SqliteCacheIndex(db, clock.now, { flushIntervalMs });
  return {
    dir,
    db,
    index,
    clock,
    close: () => {
      index.close();
      db.close();
    },
  };
}

/** A layer or config blob whose content is `name` repeated to `size` bytes. */
export function blobContent(name: string, size: number): Buffer {
  return Buffer.alloc(size, name);
}

export interface StoredImage {
  digest: Digest;
  layers: Digest[];
}

/**
 * Stores an image manifest and its blobs (content `blobContent(name, size)` per layer) under a repository, the way a
 * pull by tag does: manifest with refs and link, then each blob with its link, then the tag.
 */
export async function putImage(
  index: SqliteCacheIndex,
  at: { upstream: string; repository: string; tag?: string },
  name: string,
  layers: Array<[string, number]>,
  store?: { blobs: DiskBlobStore; temp: DiskTempFiles },
): Promise<StoredImage> {
  const digests = layers.map(([layer, size]) => sha256(blobContent(layer, size)));
  const bytes = Buffer.from(JSON.stringify({ schemaVersion: 2, name, layers: digests }));
  const digest = sha256(bytes);
  const mediaType = 'application/vnd.oci.image.manifest.v1+json';
  index.putManifest({ digest, mediaType, bytes }, { blobs: digests, manifests: [] }, at.upstream, at.repository);
  for (const [i, [layer, size]] of layers.entries()) {
    const layerDigest = digests[i] as Digest;
    if (store) await commitBlob(store, layerDigest, blobContent(layer, size));
    index.putBlob(layerDigest, size, at.upstream, at.repository);
  }
  if (at.tag) index.putTag(at.upstream, at.repository, at.tag, digest);
  return { digest, layers: digests };
}

/** Stores an index manifest over already stored children, linking it (and the children) as a pull by tag does. */
export function putIndex(
  index: SqliteCacheIndex,
  at: { upstream: string; repository: string; tag?: string },
  children: Digest[],
): Digest {
  const bytes = Buffer.from(JSON.stringify({ schemaVersion: 2, manifests: children }));
  const digest = sha256(bytes);
  const mediaType = 'application/vnd.oci.image.index.v1+json';
  index.putManifest({ digest, mediaType, bytes }, { blobs: [], manifests: children }, at.upstream, at.repository);
  if (at.tag) index.putTag(at.upstream, at.repository, at.tag, digest);
  return digest;
}

export async function commitBlob(store: { blobs: DiskBlobStore; temp: DiskTempFiles }, digest: Digest, content: Buffer): Promise<void> {
  const path = await store.temp.create();
  await writeFile(path, content);
  await store.blobs.commit(digest, path);
}

/** A pino logger whose lines the test can read. */
export function capturedLog(): { log: ReturnType<typeof createLogger>; lines: Array<Record<string, unknown>> } {
  const lines: Array<Record<string, unknown>> = [];
  const log = createLogger('info', { write: (line: string) => void lines.push(JSON.parse(line) as Record<string, unknown>) });
  return { log, lines };
}

export interface StoreFixture extends IndexFixture {
  store: { blobs: DiskBlobStore; temp: DiskTempFiles };
  /** Blob and manifest bytes the index counts. */
  total: () => number;
  /** Digests of the blob files on disk, sorted. */
  files: () => Promise<Digest[]>;
}

/** An index with a disk blob store and temp files in the same directory, closed after `test`. */
export async function withStore(dirs: ReturnType<typeof tempDirs>, test: (c: StoreFixture) => Promise<void>): Promise<void> {
  const f = await openIndex(dirs);
  const store = { blobs: new DiskBlobStore(f.dir), temp: new DiskTempFiles(f.dir) };
  const files = async (): Promise<Digest[]> => {
    const out: Digest[] = [];
    for await (const { digest } of store.blobs.list()) out.push(digest);
    return out.sort();
  };
  const total = (): number => f.index.totals().blobBytes + f.index.totals().manifestBytes;
  try {
    await test({ ...f, store, total, files });
  } finally {
    f.close();
  }
}
