// Keeps a replica's view of the cluster current (docs/storage.md, "The shared catalog"): imports the bucket's catalog
// every `syncEveryMs` and writes this replica's heartbeat. Started by the composition root with `cache.storage: s3`
// only.
import { existsSync, readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Logger } from 'pino';
import type { Config } from '../config/config.js';
import type { Bucket } from './open-catalog.js';
import { ReplicaHeartbeats, type ReplicaFigures } from './replica-heartbeats.js';
import type { SharedCatalog } from './shared-catalog.js';

export const syncEveryMs = 30_000;

export interface SharedView {
  heartbeats: ReplicaHeartbeats;
  start(): Promise<void>;
  stop(): Promise<void>;
}

export function createSharedView(parts: {
  config: Config;
  bucket: Bucket;
  catalog: SharedCatalog;
  figures: () => ReplicaFigures;
  log: Logger;
  clock: () => number;
}): SharedView {
  const { bucket, catalog, log } = parts;
  const heartbeats = new ReplicaHeartbeats({
    objects: bucket.objects,
    keys: bucket.keys,
    id: bucket.replica,
    address: advertisedAddress(parts.config),
    version: packageVersion(),
    figures: parts.figures,
    log,
    clock: parts.clock,
  });
  let timer: NodeJS.Timeout | undefined;
  const sync = () => catalog.sync().catch((err: unknown) => log.warn({ err }, 'importing the shared catalog failed'));
  return {
    heartbeats,
    async start() {
      await heartbeats.start();
      void sync();
      timer = setInterval(() => void sync(), syncEveryMs);
      timer.unref();
      log.info({ replica: bucket.replica }, 'sharing the cache catalog through the bucket');
    },
    async stop() {
      if (timer) clearInterval(timer);
      await heartbeats.stop();
    },
  };
}

/** How other replicas reach this one: the `cluster` block's advertise address when there is one, else the host name. */
function advertisedAddress(config: Config): string {
  return config.cluster?.advertise ?? hostname();
}

/** This installation's package.json version, found from this file upwards (src/catalog or dist/src/catalog). */
function packageVersion(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 5; i++) {
    const file = join(dir, 'package.json');
    if (existsSync(file)) return (JSON.parse(readFileSync(file, 'utf8')) as { version?: string }).version ?? 'unknown';
    dir = dirname(dir);
  }
  return 'unknown';
}
