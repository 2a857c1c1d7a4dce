// `pullgate cache verify|purge|stats`: work on the cache in the data directory of a config, directly.
import pino from 'pino';
import type { LocalCache } from '../catalog/local-cache.js';
import type { PurgeTarget } from '../cache/ports.js';
import { loadConfig } from '../config/load.js';
import { createLogger } from '../logger.js';
import { parseDigest } from '../registry/digest.js';
import { parseSizeBytes } from '../config/size.js';
import { UsageError } from './usage-exit.js';

export interface CacheFlags {
  config?: string;
  dataDir?: string;
}

async function withCache<T>(flags: CacheFlags, work: (cache: LocalCache) => Promise<T>): Promise<T> {
  const config = await loadConfig({ ...(flags.config ? { file: flags.config } : {}), overrides: { dataDir: flags.dataDir } });
  // Loaded when a cache command runs: `serve` and the other commands do without it (docs/operating.md, "Memory").
  const { openCache } = await import('../app/cache.js');
  // Logs go to stderr: stdout carries the command's JSON answer.
  // A server may be running on this data directory: its fills in progress are left alone.
  const log = createLogger('warn', pino.destination(2));
  const cache = await openCache(config, (component) => log.child({ component }), Date.now, { cleanTemp: false });
  try {
    return await work(cache);
  } finally {
    cache.close();
  }
}

export async function cacheVerify(flags: CacheFlags): Promise<void> {
  const report = await withCache(flags, (cache) => cache.verify());
  process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
  if (report.bad > 0) process.exitCode = 1;
}

export interface PurgeFlags extends CacheFlags {
  upstream?: string;
  repository?: string;
  tag?: string;
  digest?: string;
}

export async function cachePurge(flags: PurgeFlags): Promise<void> {
  const target = purgeTarget(flags);
  // With shared storage: on a fresh import of the bucket, whose manifests and tags go too (a no-op on disk).
  const result = await withCache(flags, (cache) =>
    cache.catalog.removing(async () => {
      const r = cache.index.purge(target);
      await Promise.all(r.removedBlobs.map((d) => cache.store.remove(d)));
      return r;
    }),
  );
  const { removedBlobs, ...counts } = result;
  process.stdout.write(`${JSON.stringify({ ...counts, removedBlobs: removedBlobs.length })}\n`);
}

export interface GcFlags extends CacheFlags {
  maxSize?: string;
}

/** Eviction now, down to the low-water mark of `cache.maxSize` (or of `--max-size`), pinned images kept. */
export async function cacheGc(flags: GcFlags): Promise<void> {
  const maxBytes = flags.maxSize === undefined ? undefined : parseSizeBytes(flags.maxSize);
  if (flags.maxSize !== undefined && maxBytes === undefined) throw new UsageError(`--max-size: not a size: ${flags.maxSize} (use e.g. 10GiB)`);
  const result = await withCache(flags, async (cache) => {
    if (maxBytes !== undefined) {
      const ratio = cache.policy.lowWaterBytes / cache.policy.maxBytes;
      cache.policy.maxBytes = maxBytes;
      cache.policy.lowWaterBytes = Math.floor(maxBytes * ratio);
    }
    const before = cache.index.totals();
    const r = await cache.evict();
    return {
      ran: r !== undefined,
      maxBytes: cache.policy.maxBytes,
      bytesBefore: before.blobBytes + before.manifestBytes,
      evicted: r?.victims ?? 0,
      blobs: r?.blobs ?? 0,
      manifests: r?.manifests ?? 0,
      bytes: r?.bytes ?? 0,
    };
  });
  process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
}

export async function cacheStats(flags: CacheFlags): Promise<void> {
  const totals = await withCache(flags, async (cache) => cache.index.totals());
  process.stdout.write(`${JSON.stringify(totals, null, 2)}\n`);
}

function purgeTarget(f: PurgeFlags): PurgeTarget {
  if (f.digest) {
    if (f.upstream || f.repository || f.tag) throw new UsageError('--digest stands alone');
    return { digest: parseDigest(f.digest) };
  }
  if (!f.upstream) throw new UsageError('name --upstream (with --repository and --tag to narrow it) or --digest');
  if (f.tag && !f.repository) throw new UsageError('--tag needs --repository');
  if (f.repository && f.tag) return { upstream: f.upstream, repository: f.repository, tag: f.tag };
  if (f.repository) return { upstream: f.upstream, repository: f.repository };
  return { upstream: f.upstream };
}
