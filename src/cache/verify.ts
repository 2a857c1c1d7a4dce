// `pullgate cache verify`: rehash every stored blob and reconcile the index with the disk.
//   - bad: content that does not hash to its name, or a size that differs from the row. The file and the row go,
//     and so does every manifest that references the blob (retention.ts), so nothing references a missing blob.
//   - missing: a row whose file is gone. The row goes the same way.
//   - orphaned: a file without a row (a crash between rename and row, or between an eviction's row and its unlink).
//     It is adopted when its content verifies and a stored manifest references it (it belongs to a cached image and
//     re-fetching it would be waste); otherwise it is removed: nothing would ever serve or evict it.
// Whatever a purge frees along the way (blobs only a removed manifest kept) leaves the disk too.
import { createHash } from 'node:crypto';
import type { Logger } from 'pino';
import { digestAlgorithm, digestHex, type Digest } from '../registry/digest.js';
import type { BlobStore, CacheIndex } from './ports.js';

export interface VerifyReport {
  /** Files rehashed. */
  checked: number;
  bad: number;
  missing: number;
  /** Files without a row; `adopted` of them were kept. */
  orphaned: number;
  adopted: number;
  /** Manifests removed because a blob they reference was bad or missing. */
  manifests: number;
}

export type VerifyLog = Pick<Logger, 'info' | 'warn'>;

export async function verifyCache(store: BlobStore, index: CacheIndex, log?: VerifyLog): Promise<VerifyReport> {
  const report: VerifyReport = { checked: 0, bad: 0, missing: 0, orphaned: 0, adopted: 0, manifests: 0 };
  const onDisk = new Set<Digest>();

  // The listing is taken first: the purges below remove files a lazy walk would still be about to visit.
  const files: Array<{ digest: Digest; size: number }> = [];
  for await (const file of store.list()) files.push(file);

  for (const { digest } of files) {
    const actual = await hashOf(store, digest);
    if (!actual) continue; // removed while verifying: by a purge above, or by the server's eviction
    onDisk.add(digest);
    report.checked += 1;
    const row = index.blob(digest);
    const intact = actual.hex === digestHex(digest);
    if (intact && row && row.size === actual.size) continue;
    if (intact && !row) {
      report.orphaned += 1;
      if (index.adoptBlob(digest, actual.size)) {
        report.adopted += 1;
        log?.info({ digest, size: actual.size }, 'adopted a verified blob file that had no index row');
      } else {
        await store.remove(digest);
        log?.info({ digest }, 'removed a blob file that had no index row');
      }
      continue;
    }
    report.bad += 1;
    log?.warn({ digest, size: actual.size, indexedSize: row?.size, hashMatches: intact }, 'removed a corrupt blob');
    await store.remove(digest);
    if (row) report.manifests += await drop(index, store, digest);
  }

  for (const digest of index.blobDigests()) {
    if (onDisk.has(digest) || (await store.stat(digest)) !== undefined) continue;
    if (!index.blob(digest)) continue;
    report.missing += 1;
    log?.warn({ digest }, 'dropped an index row whose blob file is missing');
    report.manifests += await drop(index, store, digest);
  }
  log?.info({ ...report }, 'cache verified');
  return report;
}

/** Purges a blob's row (and the manifests that reference it) and removes the files that purge frees. */
async function drop(index: CacheIndex, store: BlobStore, digest: Digest): Promise<number> {
  const purged = index.purge({ digest });
  for (const freed of purged.removedBlobs) await store.remove(freed);
  return purged.manifests;
}

async function hashOf(store: BlobStore, digest: Digest): Promise<{ hex: string; size: number } | undefined> {
  const stream = await store.open(digest);
  if (!stream) return undefined;
  const hash = createHash(digestAlgorithm(digest));
  let size = 0;
  for await (const chunk of stream as AsyncIterable<Buffer>) {
    hash.update(chunk);
    size += chunk.length;
  }
  return { hex: hash.digest('hex'), size };
}
