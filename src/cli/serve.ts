// `pullgate serve`: load the config, start the listeners, reload certificates and config on SIGHUP, stop gracefully
// on SIGTERM/SIGINT.
import { lockDataDir, shareDataDirLock } from '../cache/data-dir-lock.js';
import { checkConfigFiles } from '../config/files.js';
import { loadConfig } from '../config/load.js';
import { logUnhandledRejections } from './process-failures.js';
import { createLogger, logFormat } from '../logger.js';
import { announceListening, isSupervisor, workerContext } from '../workers/worker-context.js';

export interface ServeFlags {
  config?: string;
  listenHttp?: string;
  listenHttps?: string;
  listenAdmin?: string;
  dataDir?: string;
  proxy?: string;
  logLevel?: string;
  logFormat?: string;
}

export async function serve(flags: ServeFlags): Promise<void> {
  const load = async () => {
    const c = await loadConfig({
      ...(flags.config ? { file: flags.config } : {}),
      overrides: {
        listenHttp: flags.listenHttp,
        listenHttps: flags.listenHttps,
        listenAdmin: flags.listenAdmin,
        dataDir: flags.dataDir,
        logLevel: flags.logLevel,
        logFormat: flags.logFormat,
        proxy: flags.proxy,
      },
    });
    await checkConfigFiles(c);
    return c;
  };
  const config = await load();
  const worker = workerContext();
  // One server per data directory (docs/operating.md): the one process, or the supervisor for its workers, holds it
  // before it touches anything there.
  // A worker shares its supervisor's hold for its own life (a start cannot hold the directory while it runs).
  const lock = worker ? shareDataDirLock(config.dataDir) : await lockDataDir(config.dataDir);
  // Several workers (docs/workers.md): this process supervises them, each of them runs the rest of this function.
  // Each path loads only its own code, when taken: the supervisor serves nothing and would otherwise hold the whole app
  // in memory, and a server of one process never supervises (docs/operating.md, "Memory").
  if (isSupervisor(config)) {
    const { superviseWorkers } = await import('../workers/supervisor.js');
    const log = createLogger(config.log.level, undefined, logFormat(config.log.format, process.stdout.isTTY === true)).child({ component: 'supervisor' });
    logUnhandledRejections(process, log);
    lock?.watch(log);
    return superviseWorkers(config, config.workers ?? 1, log);
  }
  // A worker's lines say which worker wrote them.
  const log = worker ? createLogger(config.log.level, undefined, logFormat(config.log.format, process.stdout.isTTY === true)).child({ worker: worker.slot, pid: process.pid }) : undefined;
  const { createApp } = await import('../app/app.js');
  const app = await createApp(config, { loadConfig: load, ...(worker && log ? { worker, log } : {}) });
  logUnhandledRejections(process, app.log);
  lock?.watch(app.log);
  const listening = await app.listen();
  if (worker) announceListening(worker.slot, { ...listening });
  // SIGHUP: certificates and the config file again; a broken file is logged and the running config kept.
  process.on('SIGHUP', () => void app.reloadConfig());
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    app.log.info({ signal, graceMs: app.config.shutdownGrace }, 'stopping: no new connections, letting transfers finish');
    // The grace period is for transfers; closing the rest (fills, pools, the database) gets a few more seconds.
    const force = setTimeout(() => process.exit(1), app.config.shutdownGrace + 10_000);
    force.unref();
    void app.close().then(
      () => {
        app.log.info('stopped');
        process.exit(0);
      },
      (err: unknown) => {
        app.log.error({ err }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}
