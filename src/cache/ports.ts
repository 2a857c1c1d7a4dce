// What the mirror needs from the local content cache: blob bytes (BlobStore, disk today, an S3-compatible store
// later) and the metadata index (CacheIndex, SQLite). The mirror depends on these interfaces only.
import type { Readable } from 'node:stream';
import type { Logger } from 'pino';
import type { Digest } from '../registry/digest.js';

/** Each component's logger (the cache's, the object store's...), naming it once in `component`. */
export type ComponentLogs = (component: string) => Logger;

/** Inclusive byte range, as in RFC 9110. */
export interface ByteSpan {
  start: number;
  end: number;
}

export interface BlobStore {
  /** Size of a committed blob, or undefined when it is not stored. */
  stat(digest: Digest): Promise<number | undefined>;
  /** A stream of a committed blob (or part of it); undefined when it is not stored. */
  open(digest: Digest, span?: ByteSpan): Promise<Readable | undefined>;
  /**
   * Takes ownership of a verified temp file (see TempFiles) and makes it the blob `digest`: fsync, then an
   * atomic rename (or an upload). Committing a digest that is already stored just drops the temp file.
   */
  commit(digest: Digest, tempPath: string): Promise<void>;
  remove(digest: Digest): Promise<void>;
  /** Every committed blob, for `cache verify` and for reconciling the index after a crash. */
  list(): AsyncIterable<{ digest: Digest; size: number }>;
  /**
   * Optional (an object store with `redirect: true`): a short-lived URL the client may GET the committed blob from
   * itself, Range included; undefined when no URL can be made now (the mirror then streams the blob). Called only
   * after every access check a streamed hit passes.
   */
  redirectUrl?(digest: Digest): Promise<string | undefined>;
}

/** Local scratch files that fills write into and followers read while they grow. */
export interface TempFiles {
  readonly dir: string;
  /** A new, empty, uniquely named file path (the file exists, opened for writing by the caller). */
  create(): Promise<string>;
  /** Removes leftovers of an earlier process (crash mid-fill): nothing partial is ever servable. */
  clean(): Promise<number>;
}

export interface BlobRow {
  digest: Digest;
  size: number;
  storedAt: number;
  lastAccess: number;
  hits: number;
}

export interface ManifestRow {
  digest: Digest;
  mediaType: string;
  /** The exact bytes, served as stored. */
  bytes: Buffer;
  storedAt: number;
  lastAccess: number;
  hits: number;
}

export interface TagRow {
  upstream: string;
  repository: string;
  tag: string;
  digest: Digest;
  /** When the upstream last confirmed (GET or HEAD) that the tag points at `digest`. */
  validatedAt: number;
}

/** What a stored manifest refers to: blobs (config, layers) and child manifests (index entries). */
export interface ManifestReferences {
  blobs: Digest[];
  manifests: Digest[];
}

export interface CacheTotals {
  blobs: number;
  blobBytes: number;
  manifests: number;
  manifestBytes: number;
  tags: number;
}

export type PurgeTarget =
  | { upstream: string }
  | { upstream: string; repository: string }
  | { upstream: string; repository: string; tag: string }
  | { digest: Digest };

export interface PurgeResult {
  manifests: number;
  blobs: number;
  tags: number;
  bytes: number;
  /** Blobs no kept manifest references any more, already gone from the index: the caller removes their files. */
  removedBlobs: Digest[];
}

/**
 * What eviction may remove as a unit. An image is a stored manifest that no stored manifest refers to (a tag's
 * target, or something pulled by digest), together with its child manifests and the blobs only they reference; a
 * blob candidate is a stored blob that no stored manifest references (pulled directly by digest).
 */
export interface EvictionCandidate {
  kind: 'image' | 'blob';
  digest: Digest;
  /** The latest access of the blob, or of the image's manifest or any of its child manifests. */
  lastAccess: number;
  /** Tags pointing at the image (none for a blob): what tagged pins are matched against. */
  tags: Array<{ upstream: string; repository: string; tag: string }>;
  /** Repositories it is tagged or linked under: what untagged pins are matched against. */
  repositories: Array<{ upstream: string; repository: string }>;
}

export interface CacheIndex {
  // Blobs: content is global (verified by digest); which (upstream, repository) it was pulled under is a link.
  blob(digest: Digest): BlobRow | undefined;
  /** Records a committed blob and links it to the repository it was pulled under. */
  putBlob(digest: Digest, size: number, upstream: string, repository: string): void;
  linkBlob(digest: Digest, upstream: string, repository: string): void;
  isBlobLinked(digest: Digest, upstream: string, repository: string): boolean;

  manifest(digest: Digest): ManifestRow | undefined;
  /** Stores a manifest, its references (parsed by the caller) and its link to the repository. */
  putManifest(m: { digest: Digest; mediaType: string; bytes: Buffer }, refs: ManifestReferences, upstream: string, repository: string): void;
  linkManifest(digest: Digest, upstream: string, repository: string): void;
  isManifestLinked(digest: Digest, upstream: string, repository: string): boolean;

  tag(upstream: string, repository: string, tag: string): TagRow | undefined;
  /** Sets (or confirms) tag -> digest with validatedAt = now. */
  putTag(upstream: string, repository: string, tag: string, digest: Digest): void;

  /** Access time and hit count; batched, never a synchronous write on the request path. */
  touch(kind: 'blob' | 'manifest', digest: Digest): void;
  /** Writes pending touches now (also done on a timer and on close). */
  flush(): void;

  totals(): CacheTotals;
  purge(target: PurgeTarget): PurgeResult;
  /** Eviction's view of the cache, least recently used first (pending touches are written first). */
  evictionCandidates(): EvictionCandidate[];
  /** Every indexed blob, for `cache verify`. */
  blobDigests(): Digest[];
  /**
   * Records a verified blob found on disk without a row (a crash between rename and row) when a stored manifest
   * references it; returns false and records nothing otherwise.
   */
  adoptBlob(digest: Digest, size: number): boolean;
  close(): void;
}
