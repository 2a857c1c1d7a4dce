// The AWS SDK v3 client for `cache.storage: s3`, set up for S3-compatible servers as well as AWS (docs/testing.md,
// "A real S3 server: Ceph radosgw"): checksums only when an operation requires them (RGW 16 answers a streamed
// PutObject under the SDK's newer default with 411 MissingContentLength), path-style addressing when configured, and
// enough sockets for every blob being served from the bucket at once.
import { S3Client } from '@aws-sdk/client-s3';
import type { StorageConfig } from '../config/storage.js';

export type S3StorageConfig = Extract<StorageConfig, { type: 's3' }>;

export interface S3ClientTimeouts {
  /** TCP (+ TLS) connect to the object store. */
  connectMs: number;
  /** A socket with no traffic either way for this long fails the request or the body being read. */
  idleMs: number;
}

/** Each blob served from the bucket holds one socket while its body streams; the SDK's default of 50 is low. */
const maxSockets = 256;

/** What reaching the store needs; the rest of a storage config may come along (callers pass theirs whole). */
export type S3ClientConfig = Pick<S3StorageConfig, 'region' | 'endpoint' | 'forcePathStyle' | 'accessKeyId' | 'secretAccessKey'> & Partial<S3StorageConfig>;

export function createS3Client(s: S3ClientConfig, timeouts: S3ClientTimeouts): S3Client {
  return new S3Client({
    region: s.region,
    ...(s.endpoint ? { endpoint: s.endpoint } : {}),
    forcePathStyle: s.forcePathStyle,
    // Without an accessKeyId the SDK's own chain applies (environment, shared config, instance or pod role).
    ...(s.accessKeyId && s.secretAccessKey ? { credentials: { accessKeyId: s.accessKeyId, secretAccessKey: s.secretAccessKey } } : {}),
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
    requestHandler: {
      connectionTimeout: timeouts.connectMs,
      socketTimeout: timeouts.idleMs,
      httpAgent: { keepAlive: true, maxSockets },
      httpsAgent: { keepAlive: true, maxSockets },
    },
  });
}
