// The shared catalog in an S3 bucket (docs/storage.md, "The shared catalog"): manifests and tags as objects (layout in
// catalog-keys.ts), read through when the local index lacks them, written when this replica learns them, imported whole
// periodically.
//
// Writes never hold up a pull: they run in the background, a manifest before any tag that points at it (a tag
// object never names a manifest the bucket lacks because of this replica). A manifest is only written from bytes
// whose digest was verified (the mirror computes it from the bytes), with If-None-Match: * so the first writer wins.
// Bytes read back are verified again before they are recorded: the bucket is shared, not trusted.
import { createHash } from 'node:crypto';
import type { Logger } from 'pino';
import type { CatalogRows } from '../cache/catalog-rows.js';
import type { BlobStore, CacheIndex } from '../cache/ports.js';
import { digestAlgorithm, type Digest } from '../registry/digest.js';
import { bareMediaType } from '../registry/media-types.js';
import { manifestReferences } from '../cache/manifest-references.js';
import type { BucketObjects } from './bucket-objects.js';
import { syncCatalog } from './catalog-sync.js';
import type { CatalogKeys, TagKey } from './catalog-keys.js';
import type { CatalogManifest, SharedCatalog } from './shared-catalog.js';
import { decodeTagRecord, encodeTagRecord, type TagRecord } from './tag-record.js';

/** The mirror's own cap (manifests.ts maxManifestBytes); a tag record is a few hundred bytes. */
const maxManifestBytes = 8 * 1024 * 1024;
const maxTagBytes = 64 * 1024;
/** A link record is a few dozen bytes. */
const maxLinkBytes = 4 * 1024;
/** Link keys this replica knows to be in the bucket, at most (then forgotten: a link may be written again). */
const maxKnownLinks = 50_000;
/** An admin view imports again only when the last import is older than this. */
const refreshAfterMs = 2_000;

export interface S3CatalogOptions {
  objects: BucketObjects;
  keys: CatalogKeys;
  rows: CatalogRows;
  index: CacheIndex;
  store: BlobStore;
  replica: string;
  log: Logger;
  clock: () => number;
}

/** What this replica believes a tag object holds: from its own write, a read, or an import (with the ETag). */
interface KnownTag {
  digest: Digest;
  validatedAt: number;
  etag?: string;
}

export class S3Catalog implements SharedCatalog {
  readonly shared = true;
  private readonly o: S3CatalogOptions;
  private readonly writes = new Set<Promise<unknown>>();
  /** Manifest writes in flight, by digest: whether the object is in the bucket once settled. */
  private readonly manifestWrites = new Map<string, Promise<boolean>>();
  private readonly known = new Map<string, KnownTag>();
  /** Key -> when this replica's write of it finished (Infinity while in flight), for the import's removals. */
  private readonly recentWrites = new Map<string, number>();
  /** Link keys written or read by this replica: in the bucket already. */
  private readonly knownLinks = new Set<string>();
  /** Tag writes in flight, by key: the next write of a key waits for the one before. */
  private readonly tagWrites = new Map<string, Promise<void>>();
  private lock: Promise<unknown> = Promise.resolve();
  private syncing: Promise<void> | undefined;
  private lastSync = 0;

  constructor(options: S3CatalogOptions) {
    this.o = options;
  }

  async adoptManifest(digest: Digest): Promise<CatalogManifest | undefined> {
    let m: CatalogManifest | undefined;
    try {
      m = await this.readManifest(digest);
    } catch {
      return undefined; // logged; the upstream is asked instead
    }
    if (m) this.o.rows.putManifest(m, manifestReferences(m.bytes), this.o.clock());
    return m;
  }

  async adoptTag(upstream: string, repository: string, tag: string): Promise<boolean> {
    const t = { upstream, repository, tag };
    let object;
    try {
      object = await this.o.objects.get(this.o.keys.tag(t), maxTagBytes);
    } catch {
      return false;
    }
    const record = object ? decodeTagRecord(object.bytes) : undefined;
    if (!record) return false;
    return this.applyTag(t, record, object?.etag);
  }

  async adoptRepository(upstream: string, repository: string): Promise<void> {
    let listed;
    try {
      listed = await this.o.objects.list(this.o.keys.repositoryTags(upstream, repository));
    } catch {
      return;
    }
    for (const object of listed) {
      const t = this.o.keys.tagOf(object.key);
      if (t && this.known.get(this.o.keys.tag(t))?.etag !== object.etag) await this.adoptTag(t.upstream, t.repository, t.tag);
    }
  }

  /**
   * Records a tag record read from the bucket: its manifest (and the child manifests the bucket has) first, then the
   * tag and its links. A record whose manifest the bucket lacks is skipped. Returns whether the local tag changed.
   */
  async applyTag(t: TagKey, record: TagRecord, etag: string | undefined): Promise<boolean> {
    const local = this.o.rows.tag(t.upstream, t.repository, t.tag);
    if (local && local.digest === record.digest && local.validatedAt >= record.validatedAt) {
      this.known.set(this.o.keys.tag(t), { digest: record.digest, validatedAt: record.validatedAt, ...(etag ? { etag } : {}) });
      return false;
    }
    if (!(await this.adoptTree(record.digest))) return false;
    this.known.set(this.o.keys.tag(t), { digest: record.digest, validatedAt: record.validatedAt, ...(etag ? { etag } : {}) });
    return this.o.rows.putTag({ ...t, digest: record.digest, validatedAt: record.validatedAt });
  }

  /** The manifest and, for an index, the child manifests the bucket holds, recorded locally. */
  private async adoptTree(digest: Digest): Promise<boolean> {
    if (!this.o.rows.hasManifest(digest) && !(await this.adoptManifest(digest))) return false;
    const row = this.o.index.manifest(digest);
    for (const child of row ? manifestReferences(row.bytes).manifests : []) {
      if (!this.o.rows.hasManifest(child)) await this.adoptManifest(child);
    }
    return true;
  }

  linkConfirmed(kind: 'blob' | 'manifest', digest: Digest, upstream: string, repository: string): void {
    let key: string;
    try {
      key = this.o.keys.link(kind, digest, upstream, repository);
    } catch {
      return; // a name the bucket layout cannot hold: the confirmation stays local
    }
    if (this.knownLinks.has(key)) return;
    this.knowLink(key);
    const record = Buffer.from(JSON.stringify({ replica: this.o.replica, at: this.o.clock() }));
    // A plain put: replicas recording the same confirmation write equivalent records, and any of them may stay.
    this.track(this.o.objects.put(key, record, 'application/json').catch(() => this.knownLinks.delete(key)));
  }

  async adoptLink(kind: 'blob' | 'manifest', digest: Digest, upstream: string, repository: string): Promise<boolean> {
    let key: string;
    try {
      key = this.o.keys.link(kind, digest, upstream, repository);
    } catch {
      return false;
    }
    if (!this.knownLinks.has(key)) {
      const object = await this.o.objects.get(key, maxLinkBytes).catch(() => undefined);
      if (!object) return false;
      this.knowLink(key);
    }
    this.o.rows.link(kind, digest, upstream, repository);
    return true;
  }

  private knowLink(key: string): void {
    if (this.knownLinks.size >= maxKnownLinks) this.knownLinks.clear();
    this.knownLinks.add(key);
  }

  manifestStored(m: CatalogManifest): void {
    if (this.manifestWrites.has(m.digest)) return;
    const key = this.o.keys.manifest(m.digest);
    const write = this.written(key, this.o.objects.put(key, m.bytes, m.mediaType, true)).then(() => true, () => false);
    // Only writes in flight are remembered (a tag write waits for its manifest's); a later one costs a 412 at most.
    this.manifestWrites.set(m.digest, write);
    void write.then(() => this.manifestWrites.delete(m.digest));
    this.track(write);
  }

  tagValidated(upstream: string, repository: string, tag: string, digest: Digest, validatedAt: number, ttlMs: number): void {
    const key = this.o.keys.tag({ upstream, repository, tag });
    const known = this.known.get(key);
    // Another replica's stale rules need a validation time within tagTtl; half of it is close enough.
    if (known && known.digest === digest && validatedAt - known.validatedAt < ttlMs / 2) return;
    const row = this.o.index.manifest(digest);
    if (!row) return;
    this.manifestStored(row);
    this.known.set(key, { digest, validatedAt });
    const record = encodeTagRecord({ digest, validatedAt, replica: this.o.replica });
    const manifest = this.manifestWrites.get(digest) ?? Promise.resolve(true);
    // After this replica's previous write of the same tag: two writes in flight may reach the bucket in any order.
    const chain = Promise.all([manifest, this.tagWrites.get(key)?.catch(() => undefined)]).then(async ([manifestThere]) => {
      if (!manifestThere) throw new Error('manifest not in the bucket');
      await this.writeNewer(key, record, validatedAt);
    });
    this.tagWrites.set(key, chain);
    void chain.catch(() => undefined).then(() => {
      if (this.tagWrites.get(key) === chain) this.tagWrites.delete(key);
    });
    const write = this.written(key, chain);
    this.track(write.catch(() => {
      if (this.known.get(key)?.validatedAt === validatedAt) this.known.delete(key);
    }));
  }

  /**
   * Writes a tag record unless the bucket holds a validation at least as recent (the newest confirmation wins, from
   * whichever replica, however late an older write arrives): read, then a write conditional on what was read.
   */
  private async writeNewer(key: string, record: Buffer, validatedAt: number): Promise<void> {
    for (let attempt = 0; ; attempt++) {
      const current = await this.o.objects.get(key, maxTagBytes);
      const there = current ? decodeTagRecord(current.bytes) : undefined;
      if (there && there.validatedAt >= validatedAt) return;
      // A store that never honours the condition gets a plain write after a few refusals.
      if (attempt === 3) return void (await this.o.objects.put(key, record, 'application/json'));
      const written = current?.etag
        ? await this.o.objects.putIfMatch(key, record, 'application/json', current.etag)
        : await this.o.objects.put(key, record, 'application/json', current === undefined);
      if (written) return;
    }
  }

  sync(): Promise<void> {
    this.syncing ??= this.exclusive(() => this.importNow()).finally(() => {
      this.syncing = undefined;
    });
    return this.syncing;
  }

  async refresh(): Promise<void> {
    if (this.o.clock() - this.lastSync < refreshAfterMs) return;
    await this.sync().catch(() => undefined);
  }

  /**
   * Eviction and purge run on a fresh import (at most `refreshAfterMs` old: eviction is tried after every commit
   * while over the cap), and delete from the bucket what they removed, with no import in between.
   */
  removing<T>(run: () => Promise<T>): Promise<T> {
    return this.exclusive(async () => {
      if (this.o.clock() - this.lastSync >= refreshAfterMs) await this.importNow().catch(() => undefined);
      try {
        return await run();
      } finally {
        await this.propagateRemovals();
      }
    });
  }

  async propagateRemovals(): Promise<void> {
    // Taken at once (same tick as the purge that logged them), before any import can claim the log.
    const removed = this.o.rows.takeRemoved();
    for (const r of removed) {
      const key = r.kind === 'manifest' ? this.o.keys.manifest(r.digest) : this.o.keys.tag(r);
      if (r.kind === 'manifest') this.manifestWrites.delete(r.digest);
      else this.known.delete(key);
      await this.o.objects.delete(key).catch(() => undefined);
    }
    if (removed.length > 0) this.o.log.info({ manifests: removed.filter((r) => r.kind === 'manifest').length, tags: removed.filter((r) => r.kind === 'tag').length }, 'removed from the shared catalog');
  }

  async settled(): Promise<void> {
    while (this.writes.size > 0) await Promise.allSettled([...this.writes]);
  }

  async close(): Promise<void> {
    await this.settled();
    await this.syncing?.catch(() => undefined);
  }

  private async importNow(): Promise<void> {
    const started = this.o.clock();
    const { report, tagKeys } = await syncCatalog({
      ...this.o,
      catalog: this,
      knownEtag: (key) => this.known.get(key)?.etag,
      writtenSince: (key, since) => (this.recentWrites.get(key) ?? -Infinity) >= since,
    });
    for (const [key, at] of this.recentWrites) if (at < started) this.recentWrites.delete(key);
    // A tag object gone from the bucket must be written again on the next validation, not skipped as known.
    for (const key of this.known.keys()) if (!tagKeys.has(key) && !this.recentWrites.has(key)) this.known.delete(key);
    this.lastSync = this.o.clock();
    if (report.added + report.removed > 0) this.o.log.info(report, 'imported the shared catalog');
  }

  /** Reads a manifest object; its bytes must hash to its digest. */
  async readManifest(digest: Digest): Promise<CatalogManifest | undefined> {
    const object = await this.o.objects.get(this.o.keys.manifest(digest), maxManifestBytes);
    if (!object) return undefined;
    const algorithm = digestAlgorithm(digest);
    const actual = `${algorithm}:${createHash(algorithm).update(object.bytes).digest('hex')}`;
    const mediaType = bareMediaType(object.contentType);
    if (actual !== digest || !mediaType?.startsWith('application/vnd.')) {
      this.o.log.warn({ digest, actual, mediaType }, 'shared catalog manifest does not match its key; ignored');
      return undefined;
    }
    return { digest, mediaType, bytes: object.bytes };
  }

  private written<T>(key: string, write: Promise<T>): Promise<T> {
    this.recentWrites.set(key, Infinity);
    return write.finally(() => this.recentWrites.set(key, this.o.clock()));
  }

  private exclusive<T>(run: () => Promise<T>): Promise<T> {
    const next = this.lock.then(run, run);
    this.lock = next.catch(() => undefined);
    return next;
  }

  private track(p: Promise<unknown>): void {
    this.writes.add(p);
    void p.finally(() => this.writes.delete(p)).catch(() => undefined);
  }
}
