// The local read cache in front of a bucket (`cache.storage.readCache`, docs/storage.md, "The read cache"): a
// size-capped copy of blobs on the replica's own disk, under <dataDir>/read-cache, so that a hot blob costs no object
// store request.
// - A hit (stat and open, Range included) is answered from the local copy alone.
// - A whole-blob miss streams from the bucket to the client and, on the side, into a temp file hashed as it
//   grows; the copy is kept only once its length and digest match. One local fill per digest; the client never
//   waits for the disk: a fill that falls behind is dropped, as is one whose client leaves.
// - A commit keeps a hard link to the verified temp file, so a freshly fetched blob is local from the start.
// - A copy is never trusted blindly: a size that differs is a miss; a whole read is hashed and a mismatch aborts
//   the client (never a clean end) and drops the copy, so the next request fetches it from the bucket again.
// No fsync: a copy torn by a crash fails those same checks. Content-addressed copies cannot go stale.
import { createHash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { link, mkdir, open, rename, stat as statFile, unlink, utimes } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { finished, pipeline, Transform, type Readable, type TransformCallback } from 'node:stream';
import type { Logger } from 'pino';
import { digestAlgorithm, type Digest } from '../registry/digest.js';
import { isNotFound } from './fs-errors.js';
import { copyPath, ReadCacheEntries, scanCopies } from './read-cache-entries.js';
import type { BlobStore, ByteSpan, TempFiles } from './ports.js';

export interface ReadCacheOptions {
  inner: BlobStore;
  /** `<dataDir>/read-cache`. */
  dir: string;
  /** Where local fills write (the same filesystem as `dir`, so keeping one is a rename). */
  temp: TempFiles;
  maxBytes: number;
  lowWaterBytes: number;
  log: Logger;
  /** How far a local fill may fall behind the client before it is given up; default 16 MiB. */
  maxLagBytes?: number;
}

export class LocalCopyCorruptError extends Error {
  readonly code = 'READ_CACHE_CORRUPT';
}

const readChunkBytes = 1024 * 1024;
// blobs.ts asks stat before open: remembering the bucket's answer tells open whether a span is the whole blob.
const rememberedSizes = 4096;

export class ReadCacheBlobStore implements BlobStore {
  private readonly entries: ReadCacheEntries;
  private readonly filling = new Set<Digest>();
  private readonly removedWhileFilling = new Set<Digest>();
  private readonly bucketSizes = new Map<Digest, number>();
  private readonly log: Logger;
  /** Presigned redirects (cache.storage.redirect) are the bucket's: a hit then never reads the local copy. */
  readonly redirectUrl?: (digest: Digest) => Promise<string | undefined>;

  private constructor(private readonly o: ReadCacheOptions) {
    this.entries = new ReadCacheEntries(o.maxBytes, o.lowWaterBytes);
    this.log = o.log;
    const { inner } = o;
    if (inner.redirectUrl) this.redirectUrl = (digest) => inner.redirectUrl!(digest);
  }

  /** Takes stock of the copies an earlier process left (over the cap: the oldest go). */
  static async open(o: ReadCacheOptions): Promise<ReadCacheBlobStore> {
    const store = new ReadCacheBlobStore(o);
    for (const { digest, size } of await scanCopies(o.dir)) store.drop(store.entries.add(digest, size));
    return store;
  }

  /** What the local copies take, for tests and figures. */
  get local(): { blobs: number; bytes: number } {
    return { blobs: this.entries.count, bytes: this.entries.bytes };
  }

  has(digest: Digest): boolean {
    return this.entries.size(digest) !== undefined;
  }

  async stat(digest: Digest): Promise<number | undefined> {
    const local = this.entries.size(digest);
    if (local !== undefined) return local;
    const size = await this.o.inner.stat(digest);
    if (size !== undefined) this.rememberSize(digest, size);
    return size;
  }

  async open(digest: Digest, span?: ByteSpan): Promise<Readable | undefined> {
    const size = this.entries.size(digest);
    if (size !== undefined) {
      const local = await this.openLocal(digest, size, span);
      if (local) return local;
    }
    const remote = await this.o.inner.open(digest, span);
    const known = this.bucketSizes.get(digest);
    const whole = span === undefined || (span.start === 0 && known !== undefined && span.end === known - 1);
    if (!remote || !whole || known === undefined || this.filling.has(digest) || !this.entries.fits(known)) return remote;
    return this.fillWhileServing(digest, known, remote);
  }

  async commit(digest: Digest, tempPath: string): Promise<void> {
    // The temp file is verified (the BlobStore contract): a second name for it survives the inner store's unlink.
    const kept = await this.linkVerified(digest, tempPath);
    try {
      await this.o.inner.commit(digest, tempPath);
    } catch (err) {
      if (kept) await unlink(kept).catch(() => undefined);
      throw err;
    }
    if (kept) await this.keep(digest, kept, (await statFile(kept)).size);
  }

  async remove(digest: Digest): Promise<void> {
    // A local fill under way must not bring the copy back once it finishes.
    if (this.filling.has(digest)) this.removedWhileFilling.add(digest);
    await this.dropCopy(digest);
    await this.o.inner.remove(digest);
  }

  list(): AsyncIterable<{ digest: Digest; size: number }> {
    return this.o.inner.list();
  }

  private async openLocal(digest: Digest, size: number, span: ByteSpan | undefined): Promise<Readable | undefined> {
    const path = copyPath(this.o.dir, digest);
    let handle;
    try {
      handle = await open(path, 'r');
    } catch (err) {
      if (!isNotFound(err)) throw err;
      this.entries.delete(digest);
      return undefined;
    }
    const actual = (await handle.stat()).size;
    if (actual !== size) {
      await handle.close();
      this.log.warn({ digest, expected: size, actual }, 'local copy has the wrong size: dropped, fetching from the bucket');
      await this.dropCopy(digest);
      return undefined;
    }
    this.entries.touch(digest);
    const now = new Date();
    void utimes(path, now, now).catch(() => undefined);
    const stream = handle.createReadStream({ highWaterMark: readChunkBytes, ...(span ? { start: span.start, end: span.end } : {}) });
    if (span !== undefined && (span.start !== 0 || span.end !== size - 1)) return stream;
    const checked = new DigestCheck(digest, size, () => {
      this.log.warn({ digest }, 'local copy does not match its digest: client aborted, copy dropped');
      void this.dropCopy(digest);
    });
    pipeline(stream, checked, () => undefined);
    return checked;
  }

  /** The bucket's stream to the client, teed into a local temp file that is kept only if whole and verified. */
  private async fillWhileServing(digest: Digest, size: number, remote: Readable): Promise<Readable> {
    this.filling.add(digest);
    let tempPath: string;
    try {
      tempPath = await this.o.temp.create();
    } catch (err) {
      this.filling.delete(digest);
      this.log.warn({ digest, err: String(err) }, 'read cache: no temp file, serving from the bucket only');
      return remote;
    }
    const file = createWriteStream(tempPath);
    const hash = createHash(digestAlgorithm(digest));
    const maxLag = this.o.maxLagBytes ?? 16 * 1024 * 1024;
    let written = 0;
    let state: 'filling' | 'given up' | 'done' = 'filling';
    const giveUp = (reason: string): void => {
      if (state !== 'filling') return;
      state = 'given up';
      this.filling.delete(digest);
      this.removedWhileFilling.delete(digest);
      file.destroy();
      void unlink(tempPath).catch(() => undefined);
      this.log.debug({ digest, reason }, 'local copy abandoned');
    };
    file.on('error', (err) => giveUp(`disk: ${err.message}`));
    const tee = new Transform({
      transform: (chunk: Buffer, _enc, done: TransformCallback) => {
        if (state === 'filling') {
          // The disk must not slow the client: rather than wait for it, give the local copy up.
          if (file.writableLength > maxLag) giveUp('the disk fell behind the client');
          else {
            hash.update(chunk);
            written += chunk.length;
            file.write(chunk);
          }
        }
        done(null, chunk);
      },
      flush: (done: TransformCallback) => {
        done();
        if (state !== 'filling') return;
        state = 'done';
        const actual = `${digestAlgorithm(digest)}:${hash.digest('hex')}`;
        file.end();
        finished(file, (err) => {
          const removed = this.removedWhileFilling.delete(digest);
          if (!err && !removed && written === size && actual === digest) {
            void this.keep(digest, tempPath, size).finally(() => this.filling.delete(digest));
            return;
          }
          this.filling.delete(digest);
          void unlink(tempPath).catch(() => undefined);
          if (err) this.log.debug({ digest, err: err.message }, 'local copy abandoned: disk');
          else if (!removed) this.log.warn({ digest, size, written, actual }, 'the bucket sent bytes that do not match the digest: not kept locally');
        });
      },
    });
    pipeline(remote, tee, (err) => {
      if (err) giveUp(`stream: ${err.message}`);
    });
    return tee;
  }

  private async linkVerified(digest: Digest, tempPath: string): Promise<string | undefined> {
    if (this.has(digest)) return undefined;
    const size = (await statFile(tempPath)).size;
    if (!this.entries.fits(size)) return undefined;
    const kept = `${tempPath}.keep`;
    try {
      await link(tempPath, kept);
      return kept;
    } catch (err) {
      this.log.debug({ digest, err: String(err) }, 'read cache: cannot keep the committed file');
      return undefined;
    }
  }

  /** Moves a verified file into place, then records it: an entry always names a whole, verified file. */
  private async keep(digest: Digest, path: string, size: number): Promise<void> {
    const target = copyPath(this.o.dir, digest);
    try {
      await mkdir(dirname(target), { recursive: true });
      await rename(path, target);
    } catch (err) {
      await unlink(path).catch(() => undefined);
      this.log.warn({ digest, err: String(err) }, 'read cache: cannot keep a local copy');
      return;
    }
    this.drop(this.entries.add(digest, size));
  }

  private drop(victims: Digest[]): void {
    for (const victim of victims) void unlink(copyPath(this.o.dir, victim)).catch(() => undefined);
  }

  private async dropCopy(digest: Digest): Promise<void> {
    this.entries.delete(digest);
    await unlink(copyPath(this.o.dir, digest)).catch((err: unknown) => {
      if (!isNotFound(err)) throw err;
    });
  }

  private rememberSize(digest: Digest, size: number): void {
    this.bucketSizes.delete(digest);
    this.bucketSizes.set(digest, size);
    if (this.bucketSizes.size > rememberedSizes) {
      const oldest = this.bucketSizes.keys().next().value;
      if (oldest !== undefined) this.bucketSizes.delete(oldest);
    }
  }
}

/** Hashes a whole local read and holds the last chunk back until it matches: a bad copy never ends cleanly. */
class DigestCheck extends Transform {
  private readonly hash;
  private held: Buffer | undefined;
  private received = 0;

  constructor(
    private readonly digest: Digest,
    private readonly size: number,
    private readonly onMismatch: () => void,
  ) {
    super();
    this.hash = createHash(digestAlgorithm(digest));
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback): void {
    this.hash.update(chunk);
    this.received += chunk.length;
    const previous = this.held;
    this.held = chunk;
    done(null, previous);
  }

  override _flush(done: TransformCallback): void {
    const actual = `${digestAlgorithm(this.digest)}:${this.hash.digest('hex')}`;
    if (this.received !== this.size || actual !== this.digest) {
      this.onMismatch();
      done(new LocalCopyCorruptError(`local copy of ${this.digest} is corrupt`));
      return;
    }
    done(null, this.held);
  }
}

export const readCacheDir = (dataDir: string): string => join(dataDir, 'read-cache');
