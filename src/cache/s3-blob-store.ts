// Committed blobs in an S3-compatible bucket shared by several replicas (docs/storage.md, "Blobs in an S3 bucket"),
// under content-addressed keys `<prefix>blobs/<algorithm>/<first two hex>/<hex>`. An object is only ever written from a
// temp file whose digest the fill has verified, in one PutObject or a multipart upload: S3 makes either visible whole
// or not at all, so nothing partial is ever servable. Same key, same bytes: concurrent commits of one digest cannot
// disagree.
import { createReadStream } from 'node:fs';
import { stat as statFile, unlink } from 'node:fs/promises';
import type { Readable } from 'node:stream';
import {
  DeleteObjectCommand,
  GetObjectCommand,
  HeadBucketCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import type { Logger } from 'pino';
import { digestAlgorithm, digestHex, parseDigest, type Digest } from '../registry/digest.js';
import { digestOfContentPath } from './content-path.js';
import { BlobSpanError } from './disk-blob-store.js';
import { isNotFound } from './fs-errors.js';
import { isNotStored, isPreconditionFailed, ObjectStoreError, toObjectStoreError } from './object-store-errors.js';
import type { BlobStore, ByteSpan } from './ports.js';
import type { S3BlobRedirects } from './s3-blob-redirects.js';

export interface S3BlobStoreOptions {
  client: S3Client;
  bucket: string;
  /** Empty or ending with `/`. */
  prefix: string;
  /** Blobs at least this large go up in parts of `partSize`, `partsInFlight` at once. */
  multipartThreshold: number;
  partSize: number;
  partsInFlight?: number;
  log: Logger;
  /** `redirect: true`: presigned URLs for blob GETs that hit the bucket. */
  redirects?: S3BlobRedirects;
}

const isValidSpan = ({ start, end }: ByteSpan): boolean =>
  Number.isSafeInteger(start) && Number.isSafeInteger(end) && start >= 0 && start <= end;

export class S3BlobStore implements BlobStore {
  private readonly client: S3Client;
  readonly bucket: string;
  readonly prefix: string;
  private readonly log: Logger;

  constructor(private readonly o: S3BlobStoreOptions) {
    this.client = o.client;
    this.bucket = o.bucket;
    this.prefix = o.prefix;
    this.log = o.log;
  }

  /** Re-parses the digest: a cast string must not become a key outside the prefix. */
  keyOf(digest: Digest): string {
    const checked = parseDigest(digest);
    const hex = digestHex(checked);
    return `${this.prefix}blobs/${digestAlgorithm(checked)}/${hex.slice(0, 2)}/${hex}`;
  }

  /** Fails unless the bucket exists and the credentials reach it: at startup, before any client is served. */
  async check(): Promise<void> {
    try {
      await this.client.send(new HeadBucketCommand({ Bucket: this.bucket }));
    } catch (err) {
      // HEAD answers carry no error body: a 404 here is the bucket itself.
      const failure = isNotStored(err)
        ? new ObjectStoreError('OBJECT_STORE_NO_BUCKET', 'HeadBucket', `object store: bucket ${this.bucket} does not exist`, { status: 404 }, { cause: err })
        : toObjectStoreError(err, 'HeadBucket');
      throw this.logged(failure);
    }
  }

  async stat(digest: Digest): Promise<number | undefined> {
    const key = this.keyOf(digest);
    try {
      const head = await this.client.send(new HeadObjectCommand({ Bucket: this.bucket, Key: key }));
      return head.ContentLength;
    } catch (err) {
      if (isNotStored(err)) return undefined;
      throw this.logged(toObjectStoreError(err, 'HeadObject', key));
    }
  }

  async open(digest: Digest, span?: ByteSpan): Promise<Readable | undefined> {
    if (span && !isValidSpan(span)) throw new BlobSpanError(span);
    const key = this.keyOf(digest);
    try {
      const res = await this.client.send(
        new GetObjectCommand({ Bucket: this.bucket, Key: key, ...(span ? { Range: `bytes=${span.start}-${span.end}` } : {}) }),
      );
      // In Node the body is the HTTP response itself: destroying it (a client that left) closes the socket.
      return res.Body as Readable;
    } catch (err) {
      if (isNotStored(err)) return undefined;
      throw this.logged(toObjectStoreError(err, 'GetObject', key));
    }
  }

  async commit(digest: Digest, tempPath: string): Promise<void> {
    const key = this.keyOf(digest);
    try {
      if ((await this.stat(digest)) !== undefined) return;
      const { size } = await statFile(tempPath);
      if (size >= this.o.multipartThreshold) await this.uploadInParts(digest, key, tempPath, size);
      else await this.putWhole(key, tempPath, size);
    } finally {
      await unlink(tempPath).catch((err: unknown) => {
        if (!isNotFound(err)) throw err;
      });
    }
  }

  /** If-None-Match: * makes a racing second writer a no-op (412) where the server supports it. */
  private async putWhole(key: string, path: string, size: number): Promise<void> {
    try {
      await this.client.send(
        new PutObjectCommand({
          Bucket: this.bucket,
          Key: key,
          Body: createReadStream(path),
          ContentLength: size,
          ContentType: 'application/octet-stream',
          IfNoneMatch: '*',
        }),
      );
    } catch (err) {
      if (isPreconditionFailed(err)) return;
      throw this.logged(toObjectStoreError(err, 'PutObject', key));
    }
  }

  private async uploadInParts(digest: Digest, key: string, path: string, size: number): Promise<void> {
    const upload = new Upload({
      client: this.client,
      params: { Bucket: this.bucket, Key: key, Body: createReadStream(path, { highWaterMark: 1024 * 1024 }), ContentType: 'application/octet-stream' },
      partSize: this.o.partSize,
      queueSize: this.o.partsInFlight ?? 4,
      leavePartsOnError: false,
    });
    try {
      await upload.done();
    } catch (err) {
      throw this.logged(toObjectStoreError(err, 'Upload', key));
    }
    // Some servers (RGW 16) answer CompleteMultipartUpload without an ETag: the object's size is the check.
    const stored = await this.stat(digest);
    if (stored !== size) {
      throw this.logged(new ObjectStoreError('OBJECT_STORE_FAILED', 'Upload', `object store kept ${stored ?? 'no'} bytes of ${size} (${key})`, { key }));
    }
  }

  async remove(digest: Digest): Promise<void> {
    const key = this.keyOf(digest);
    try {
      await this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: key }));
    } catch (err) {
      if (isNotStored(err)) return;
      throw this.logged(toObjectStoreError(err, 'DeleteObject', key));
    }
  }

  /** Pages through the prefix; keys that are not a well-placed digest (stray objects, wrong fan-out) are skipped. */
  async *list(): AsyncIterable<{ digest: Digest; size: number }> {
    const root = `${this.prefix}blobs/`;
    let token: string | undefined;
    do {
      let page;
      try {
        page = await this.client.send(new ListObjectsV2Command({ Bucket: this.bucket, Prefix: root, ...(token ? { ContinuationToken: token } : {}) }));
      } catch (err) {
        throw this.logged(toObjectStoreError(err, 'ListObjectsV2', root));
      }
      for (const object of page.Contents ?? []) {
        const digest = digestOfContentPath(object.Key?.slice(root.length));
        if (digest !== undefined && object.Size !== undefined) yield { digest, size: object.Size };
      }
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
  }

  /** A URL that cannot be signed (no credentials from the SDK's chain) is logged, and the blob streams instead. */
  async redirectUrl(digest: Digest): Promise<string | undefined> {
    if (!this.o.redirects) return undefined;
    const key = this.keyOf(digest);
    try {
      return await this.o.redirects.urlFor(key);
    } catch (err) {
      this.logged(new ObjectStoreError('OBJECT_STORE_DENIED', 'Presign', `object store: cannot presign ${key}: ${(err as Error).message}`, { key }, { cause: err }));
      return undefined;
    }
  }

  /** One log line per failure, with the S3 request id an operator quotes to the storage provider. */
  private logged(err: ObjectStoreError): ObjectStoreError {
    this.log.error({ code: err.code, operation: err.operation, bucket: this.bucket, ...err.details }, err.message);
    return err;
  }
}
