// The first wiring step: what every later step reads. The configuration in effect (a reload replaces it, so steps
// keep the getter, never a copy), the logger and its children (a reload sets the level on each), the clock, and the
// data directory with its secret box (upstream credentials, registry token keys: docs/security.md).
import { mkdir } from 'node:fs/promises';
import type { Logger } from 'pino';
import { SecretBox } from '../cache/secret-box.js';
import type { Config } from '../config/config.js';
import { createLogger, logFormat } from '../logger.js';
import type { WorkerContext } from '../workers/worker-context.js';

export interface BaseOptions {
  log?: Logger;
  clock?: () => number;
  worker?: WorkerContext | undefined;
}

export interface Base {
  /** The configuration in effect now (after reloads). */
  config(): Config;
  /** A reload's configuration takes effect. */
  adopt(next: Config): void;
  log: Logger;
  /** Every logger made so far: pino children copy the level when made. */
  readonly loggers: readonly Logger[];
  /** A child logger for one component, kept in `loggers`. */
  child(component: string): Logger;
  clock: () => number;
  /** The clock the caller passed (tests), if any: upstreams keep their own default otherwise. */
  givenClock?: () => number;
  secrets: SecretBox;
  /** One of several worker processes of this machine (docs/workers.md); absent in a server of one process. */
  worker?: WorkerContext;
  /** Runs the work done once per machine (admin, watch scheduler, housekeeping, ACME, heartbeats): the lead worker, or the one process. */
  lead: boolean;
}

export async function wireBase(initial: Config, options: BaseOptions): Promise<Base> {
  let config = initial;
  const log = options.log ?? createLogger(config.log.level, undefined, logFormat(config.log.format, process.stdout.isTTY === true));
  const loggers = [log];
  // The index, the secret key and the workers' counts are the mirror's user's only (docs/security.md, "Secrets the admin keeps").
  await mkdir(config.dataDir, { recursive: true, mode: 0o700 });
  return {
    config: () => config,
    adopt: (next) => {
      config = next;
    },
    log,
    loggers,
    child(component) {
      const l = log.child({ component });
      loggers.push(l);
      return l;
    },
    clock: options.clock ?? Date.now,
    ...(options.clock ? { givenClock: options.clock } : {}),
    secrets: await SecretBox.open(config.dataDir),
    ...(options.worker ? { worker: options.worker } : {}),
    lead: options.worker?.lead ?? true,
  };
}
