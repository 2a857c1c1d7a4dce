// Reloading the configuration of a running mirror (SIGHUP, or the admin): certificates first, then the config
// read again, validated, compared (live-config.ts) and applied where it can change live. A configuration that does
// not load is refused and logged; the running one stays.
import type { Logger } from 'pino';
import type { LocalCache } from './catalog/local-cache.js';
import type { Config } from './config/config.js';
import { compareConfigs } from './live-config.js';
import type { UpstreamSet } from './upstream/upstream-set.js';

export type ReloadResult =
  | { ok: true; applied: string[]; restartNeeded: string[] }
  | { ok: false; error: string };

export interface ReloadTargets {
  log: Logger;
  /** Every logger the app made: pino children copy the level when made, so each gets the new one. */
  loggers: readonly Logger[];
  load?: () => Promise<Config>;
  running: () => Config;
  adopt: (config: Config) => void;
  /** The file's upstreams changed: apply them (with the admin's) and rebuild the named ones. */
  fileUpstreams: (config: Config, rebuild: readonly string[]) => void;
  upstreams: UpstreamSet;
  /** The file's pins changed (the admin's stay). */
  pins: (pins: readonly string[]) => void;
  cache: LocalCache;
  evict: () => void;
  reloadCertificates: () => Promise<void>;
}

export async function reloadConfig(t: ReloadTargets): Promise<ReloadResult> {
  // Certificates first: a renewed certificate is picked up even when the config file is broken.
  await t.reloadCertificates();
  if (!t.load) return { ok: false, error: 'this mirror was not started from a configuration it can read again' };
  let next: Config;
  try {
    next = await t.load();
  } catch (err) {
    const error = (err as Error).message;
    t.log.error({ error }, 'configuration reload refused; keeping the running configuration');
    return { ok: false, error };
  }
  const running = t.running();
  const changes = compareConfigs(running, next);
  // Adopted first: upstreams rebuilt below read their timeouts from the configuration in effect.
  t.adopt(changes.effective);
  const applied: string[] = [];
  const { changed, removed, reordered } = changes.upstreams;
  if (changed.length || removed.length || reordered) {
    t.fileUpstreams(changes.effective, changed);
    applied.push('upstreams');
  }
  if (changes.logLevel) applied.push('log.level');
  if (changes.cache) {
    const { maxSize, lowWater, pins } = changes.effective.cache;
    Object.assign(t.cache.policy, { maxBytes: maxSize, lowWaterBytes: Math.floor(maxSize * lowWater) });
    t.pins(pins);
    t.evict();
    applied.push('cache');
  }
  if (running.shutdownGrace !== next.shutdownGrace) applied.push('shutdownGrace');
  if (changes.restartNeeded.length) {
    t.log.warn({ keys: changes.restartNeeded }, 'configuration changes that need a restart were not applied');
  }
  t.log.info({ applied, upstreams: t.upstreams.all().map((u) => `${u.name}=${u.config.registry}`) }, 'configuration reloaded');
  // Last, so that the lines about this reload are written at the level they were asked at.
  if (changes.logLevel) for (const l of t.loggers) l.level = next.log.level;
  return { ok: true, applied, restartNeeded: changes.restartNeeded };
}
