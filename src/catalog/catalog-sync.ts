// Importing the bucket into the local index (docs/storage.md, "The shared catalog"): the admin's cache explorer, totals
// and eviction candidates on any replica then show the cluster's cache. Objects new to this replica are added; rows
// whose object is gone (another replica purged or evicted it) are removed, as a purge would (retention.ts).
//
// A row is removed only when the listing cannot have missed its object: a blob row is written after its object
// (commit, then row), so a row older than the listing's start whose object is absent is gone; a manifest or tag
// is written to the bucket in the background after its row, so one this replica was still writing when the listing
// began is kept. (A row whose write failed is removed: the cluster's catalog never had it.)
// Removals happen in one synchronous stretch and their log is dropped: they follow the bucket, they are not a
// decision to delete anything there.
import type { Logger } from 'pino';
import type { CatalogRows } from '../cache/catalog-rows.js';
import type { BlobStore, CacheIndex } from '../cache/ports.js';
import type { Digest } from '../registry/digest.js';
import type { BucketObjects } from './bucket-objects.js';
import type { CatalogKeys, TagKey } from './catalog-keys.js';
import { decodeTagRecord, type TagRecord } from './tag-record.js';

const maxTagBytes = 64 * 1024;
/** Objects read at once during an import. */
const concurrency = 32;

export interface SyncDeps {
  objects: BucketObjects;
  keys: CatalogKeys;
  rows: CatalogRows;
  index: CacheIndex;
  store: BlobStore;
  log: Logger;
  clock: () => number;
  catalog: {
    adoptManifest(digest: Digest): Promise<unknown>;
    applyTag(t: TagKey, record: TagRecord, etag: string | undefined): Promise<boolean>;
  };
  /** The ETag this replica last read for a tag key: unchanged objects are not read again. */
  knownEtag(key: string): string | undefined;
  /** Whether this replica's own write of `key` was in flight or finished at or after `since`. */
  writtenSince(key: string, since: number): boolean;
}

export interface SyncReport {
  blobs: number;
  manifests: number;
  tags: number;
  added: number;
  removed: number;
}

/** The report, and the tag keys the bucket listed (what this replica may still believe about the others is stale). */
export async function syncCatalog(d: SyncDeps): Promise<{ report: SyncReport; tagKeys: Set<string> }> {
  const started = d.clock();
  const blobs = new Map<string, number>();
  const [, manifestObjects, tagObjects] = await Promise.all([
    (async () => {
      for await (const b of d.store.list()) blobs.set(b.digest, b.size);
    })(),
    d.objects.list(d.keys.manifestsRoot),
    d.objects.list(d.keys.tagsRoot),
  ]);
  const manifests = new Set(manifestObjects.map((o) => d.keys.manifestOf(o.key)).filter((m): m is Digest => m !== undefined));
  const tags = new Map<string, { t: TagKey; etag: string }>();
  for (const o of tagObjects) {
    const t = d.keys.tagOf(o.key);
    if (t) tags.set(o.key, { t, etag: o.etag });
  }
  let added = 0;

  const localBlobs = new Set(d.rows.localBlobs().map((b) => b.digest));
  for (const [digest, size] of blobs) {
    if (localBlobs.has(digest)) continue;
    d.rows.putBlob(digest as Digest, size, started);
    added += 1;
  }
  const localManifests = new Set(d.rows.localManifests().map((m) => m.digest));
  await inBatches([...manifests].filter((m) => !localManifests.has(m)), async (digest) => {
    if (await d.catalog.adoptManifest(digest)) added += 1;
  });
  await inBatches([...tags], async ([key, { t, etag }]) => {
    if (d.knownEtag(key) === etag) return;
    const object = await d.objects.get(key, maxTagBytes).catch(() => undefined);
    const record = object ? decodeTagRecord(object.bytes) : undefined;
    if (record && (await d.catalog.applyTag(t, record, object?.etag ?? etag))) added += 1;
  });

  // Removals: synchronous from here on, so nothing else touches the index (or the removal log) in between.
  let removed = 0;
  for (const b of d.rows.localBlobs()) {
    if (!blobs.has(b.digest) && b.storedAt < started) {
      d.rows.forgetBlob(b.digest);
      removed += 1;
    }
  }
  for (const m of d.rows.localManifests()) {
    if (!manifests.has(m.digest as Digest) && m.storedAt < started && !d.writtenSince(d.keys.manifest(m.digest as Digest), started)) {
      removed += d.index.purge({ digest: m.digest as Digest }).manifests;
    }
  }
  for (const t of d.rows.localTags()) {
    const key = d.keys.tag(t);
    if (!tags.has(key) && t.validatedAt < started && !d.writtenSince(key, started)) {
      removed += d.index.purge({ upstream: t.upstream, repository: t.repository, tag: t.tag }).tags;
    }
  }
  d.rows.takeRemoved();
  return { report: { blobs: blobs.size, manifests: manifests.size, tags: tags.size, added, removed }, tagKeys: new Set(tags.keys()) };
}

/** Runs `run` over `items`, `concurrency` at a time (a pool: one slow object does not hold up a batch). */
async function inBatches<T>(items: T[], run: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    for (let i = next++; i < items.length; i = next++) await run(items[i] as T);
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, items.length) }, worker));
}
