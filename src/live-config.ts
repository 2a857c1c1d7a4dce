// What a config reload (SIGHUP, or the admin) can apply to a running mirror, and what needs a restart. Upstreams,
// the log level, cache pins and size cap and the shutdown grace apply live; listeners, the data directory, the
// certificate list, the public URL, the keep-alive and fill idle timeouts are fixed when the listeners are built,
// the log format and the number of workers when the process starts.
import { isDeepStrictEqual } from 'node:util';
import type { Config, UpstreamConfig } from './config/config.js';

export interface ConfigChanges {
  /** Upstream names whose connection pool must be rebuilt (added or changed); removed ones are in `removed`. */
  upstreams: { changed: string[]; removed: string[]; reordered: boolean };
  logLevel: boolean;
  cache: boolean;
  /** Keys that changed but apply only after a restart. */
  restartNeeded: string[];
  /** `next` with the restart-only keys kept at their running values: the configuration actually in effect. */
  effective: Config;
}

/** The settings an Upstream object is built from: a change to any of them means a new Upstream. */
function upstreamIdentity(u: UpstreamConfig, c: Config): unknown {
  const { connect, headers, idle } = c.timeouts;
  return { ...u, url: u.url.href, timeouts: { connect, headers, idle } };
}

export function compareConfigs(running: Config, next: Config): ConfigChanges {
  const restartNeeded: string[] = [];
  const fixed = <T>(key: string, a: T, b: T): T => {
    if (!isDeepStrictEqual(a, b)) restartNeeded.push(key);
    return a;
  };
  const effective: Config = {
    ...next,
    listen: fixed('listen', running.listen, next.listen),
    dataDir: fixed('dataDir', running.dataDir, next.dataDir),
    tls: fixed('tls', running.tls, next.tls),
    access: fixed('access', running.access, next.access),
    admin: fixed('admin', running.admin, next.admin),
    timeouts: { ...next.timeouts, keepAlive: fixed('timeouts.keepAlive', running.timeouts.keepAlive, next.timeouts.keepAlive) },
    cache: {
      ...next.cache,
      fillIdleTimeout: fixed('cache.fillIdleTimeout', running.cache.fillIdleTimeout, next.cache.fillIdleTimeout),
      storage: fixed('cache.storage', running.cache.storage, next.cache.storage),
    },
  };
  // The log stream is made once, at start: its format stays.
  const logFormat = fixed('log.format', running.log.format, next.log.format);
  effective.log = { level: next.log.level, ...(logFormat !== undefined ? { format: logFormat } : {}) };
  // The supervisor forks its workers at start (docs/workers.md): their number stays.
  const workers = fixed('workers', running.workers, next.workers);
  if (workers === undefined) delete effective.workers;
  else effective.workers = workers;
  const publicUrl = fixed('publicUrl', running.publicUrl, next.publicUrl);
  if (publicUrl === undefined) delete effective.publicUrl;
  else effective.publicUrl = publicUrl;

  const before = new Map(running.upstreams.map((u) => [u.name, upstreamIdentity(u, running)]));
  const changed = next.upstreams.filter((u) => !isDeepStrictEqual(before.get(u.name), upstreamIdentity(u, next))).map((u) => u.name);
  const kept = new Set(next.upstreams.map((u) => u.name));
  const removed = running.upstreams.filter((u) => !kept.has(u.name)).map((u) => u.name);
  const reordered = !isDeepStrictEqual(running.upstreams.map((u) => u.name), next.upstreams.map((u) => u.name));
  return {
    upstreams: { changed, removed, reordered },
    logLevel: running.log.level !== next.log.level,
    cache: !isDeepStrictEqual(
      { maxSize: running.cache.maxSize, lowWater: running.cache.lowWater, pins: running.cache.pins },
      { maxSize: next.cache.maxSize, lowWater: next.cache.lowWater, pins: next.cache.pins },
    ),
    restartNeeded,
    effective,
  };
}
