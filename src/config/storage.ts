// Where committed blobs live: the local disk (the default, one machine) or an S3-compatible bucket shared by several
// replicas (docs/storage.md). The secret key comes from a file or the value, is read once at load and never logged.
import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { z } from 'zod';
import { readCacheSchema } from './read-cache.js';
import { parseSizeBytes } from './size.js';
import { redirectFields } from './storage-redirect.js';

const bytes = (fallback: string, min: number, what: string) =>
  z
    .union([z.string(), z.number()])
    .default(fallback)
    .transform((v, ctx) => {
      const value = parseSizeBytes(v);
      if (value === undefined || value < min) {
        ctx.addIssue({ code: 'custom', message: `${what}: expected a size of at least ${min} bytes, e.g. "${fallback}", got ${String(v)}` });
        return z.NEVER;
      }
      return value;
    });

// S3 allows at most 10,000 parts of at least 5 MiB (except the last): 5 MiB parts reach 48 GiB blobs.
const minPartBytes = 5 * 1024 * 1024;

const s3Storage = z
  .strictObject({
    type: z.literal('s3'),
    /** Omitted: AWS's own endpoint for the region. Set for any other S3-compatible server (Ceph RGW, MinIO...). */
    endpoint: z.url({ protocol: /^https?$/ }).optional(),
    region: z.string().min(1).default('us-east-1'),
    bucket: z.string().regex(/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/, 'an S3 bucket name: 3-63 lowercase letters, digits, dots and hyphens'),
    /** Keys start with this: several caches can share a bucket. Empty, or ending with `/`. */
    prefix: z
      .string()
      .default('')
      .refine((p) => p === '' || (p.endsWith('/') && !p.startsWith('/') && !p.includes('//')), 'empty, or like "pullgate/" (no leading slash, a trailing one)'),
    /** Omitted: the AWS SDK's own chain (environment, shared files, instance or pod role). */
    accessKeyId: z.string().min(1).optional(),
    secretAccessKey: z.string().min(1).optional(),
    secretAccessKeyFile: z.string().min(1).optional(),
    /** `bucket` in the path instead of the host name: what most self-hosted servers need. */
    forcePathStyle: z.boolean().default(false),
    /** Blobs at least this large are uploaded in parts, several at once. */
    multipartThreshold: bytes('16MiB', minPartBytes, 'multipartThreshold'),
    partSize: bytes('8MiB', minPartBytes, 'partSize'),
    /** A size-capped local copy of blobs read from the bucket (src/config/read-cache.ts). */
    readCache: readCacheSchema.optional(),
    ...redirectFields,
  })
  .superRefine((s, ctx) => {
    if (s.redirect && s.readCache !== undefined) {
      ctx.addIssue({ code: 'custom', path: ['readCache'], message: 'with redirect: true clients fetch hits from the bucket itself; a local read cache would never be read' });
    }
    if (s.secretAccessKey !== undefined && s.secretAccessKeyFile !== undefined) {
      ctx.addIssue({ code: 'custom', path: ['secretAccessKeyFile'], message: 'give secretAccessKey or secretAccessKeyFile, not both' });
    }
    const hasSecret = s.secretAccessKey !== undefined || s.secretAccessKeyFile !== undefined;
    if (s.accessKeyId !== undefined && !hasSecret) {
      ctx.addIssue({ code: 'custom', path: ['accessKeyId'], message: 'accessKeyId needs secretAccessKey or secretAccessKeyFile' });
    }
    if (s.accessKeyId === undefined && hasSecret) {
      ctx.addIssue({ code: 'custom', path: ['accessKeyId'], message: 'a secret access key needs its accessKeyId' });
    }
  });

export const storageSchema = z
  .discriminatedUnion('type', [z.strictObject({ type: z.literal('disk') }), s3Storage])
  .default({ type: 'disk' });

export type ParsedStorage = z.output<typeof storageSchema>;

/** The storage the app runs on: the secret read, the file path gone. */
export type StorageConfig =
  | { type: 'disk' }
  | (Omit<Extract<ParsedStorage, { type: 's3' }>, 'secretAccessKey' | 'secretAccessKeyFile'> & { secretAccessKey?: string });

export class StorageSecretError extends Error {
  readonly code = 'STORAGE_SECRET_UNREADABLE';
}

export async function resolveStorage(s: ParsedStorage, baseDir: string): Promise<StorageConfig> {
  if (s.type === 'disk') return s;
  const { secretAccessKey, secretAccessKeyFile, ...rest } = s;
  if (secretAccessKeyFile === undefined) return { ...rest, ...(secretAccessKey !== undefined ? { secretAccessKey } : {}) };
  const path = resolve(baseDir, secretAccessKeyFile);
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    throw new StorageSecretError(`cache.storage.secretAccessKeyFile: cannot read ${path}: ${(err as NodeJS.ErrnoException).code ?? 'error'}`);
  }
  const secret = text.replace(/\r?\n$/, '');
  if (secret === '') throw new StorageSecretError(`cache.storage.secretAccessKeyFile: ${path} is empty`);
  return { ...rest, secretAccessKey: secret };
}
