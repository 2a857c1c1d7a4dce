// The few object operations the catalog and the heartbeats need, with the blob store's error rules
// (object-store-errors.ts): absence is `undefined`, every failure an ObjectStoreError logged once with its S3
// request id, never the credentials.
import { DeleteObjectCommand, GetObjectCommand, ListObjectsV2Command, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import type { Logger } from 'pino';
import { isNotStored, isPreconditionFailed, ObjectStoreError, toObjectStoreError } from '../cache/object-store-errors.js';

export interface ListedObject {
  key: string;
  size: number;
  etag: string;
  lastModified: number;
}

export interface StoredObject {
  bytes: Buffer;
  contentType: string | undefined;
  etag: string | undefined;
}

export class BucketObjects {
  constructor(
    private readonly client: S3Client,
    readonly bucket: string,
    private readonly log: Logger,
  ) {}

  /** The object's bytes; undefined when absent. An object larger than `maxBytes` is an error, never read. */
  async get(key: string, maxBytes: number): Promise<StoredObject | undefined> {
    try {
      const res = await this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key: key }));
      if (res.ContentLength !== undefined && res.ContentLength > maxBytes) {
        await res.Body?.transformToByteArray().catch(() => undefined);
        throw new ObjectStoreError('OBJECT_STORE_FAILED', 'GetObject', `object store: ${key} is larger than ${maxBytes} bytes`, { key });
      }
      const bytes = Buffer.from((await res.Body?.transformToByteArray()) ?? new Uint8Array());
      return { bytes, contentType: res.ContentType, etag: res.ETag };
    } catch (err) {
      if (isNotStored(err)) return undefined;
      throw this.logged(toObjectStoreError(err, 'GetObject', key));
    }
  }

  /** Writes the object; with `ifAbsent`, an object already there wins (If-None-Match: *) and false is returned. */
  async put(key: string, bytes: Buffer, contentType: string, ifAbsent = false): Promise<boolean> {
    try {
      await this.client.send(
        new PutObjectCommand({ Bucket: this.bucket, Key: key, Body: bytes, ContentLength: bytes.length, ContentType: contentType, ...(ifAbsent ? { IfNoneMatch: '*' } : {}) }),
      );
      return true;
    } catch (err) {
      if (ifAbsent && isPreconditionFailed(err)) return false;
      throw this.logged(toObjectStoreError(err, 'PutObject', key));
    }
  }

  /**
   * Writes the object only while it is still the version `etag` names (If-Match); false when it changed since.
   * The ETag goes without its quotes: radosgw compares the bare value (a quoted one never matches there).
   */
  async putIfMatch(key: string, bytes: Buffer, contentType: string, etag: string): Promise<boolean> {
    try {
      await this.client.send(new PutObjectCommand({ Bucket: this.bucket, Key: key, Body: bytes, ContentLength: bytes.length, ContentType: contentType, IfMatch: etag.replace(/"/g, '') }));
      return true;
    } catch (err) {
      if (isPreconditionFailed(err)) return false;
      throw this.logged(toObjectStoreError(err, 'PutObject', key));
    }
  }

  async delete(key: string): Promise<void> {
    try {
      await this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: key }));
    } catch (err) {
      if (isNotStored(err)) return;
      throw this.logged(toObjectStoreError(err, 'DeleteObject', key));
    }
  }

  /** Every object under `prefix`, page by page. */
  async list(prefix: string): Promise<ListedObject[]> {
    const out: ListedObject[] = [];
    let token: string | undefined;
    do {
      let page;
      try {
        page = await this.client.send(new ListObjectsV2Command({ Bucket: this.bucket, Prefix: prefix, ...(token ? { ContinuationToken: token } : {}) }));
      } catch (err) {
        throw this.logged(toObjectStoreError(err, 'ListObjectsV2', prefix));
      }
      for (const o of page.Contents ?? []) {
        if (o.Key === undefined) continue;
        out.push({ key: o.Key, size: o.Size ?? 0, etag: o.ETag ?? '', lastModified: o.LastModified?.getTime() ?? 0 });
      }
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
    return out;
  }

  /** Closes the client's sockets (at shutdown). */
  close(): void {
    this.client.destroy();
  }

  private logged(err: ObjectStoreError): ObjectStoreError {
    this.log.error({ code: err.code, operation: err.operation, bucket: this.bucket, ...err.details }, err.message);
    return err;
  }
}
