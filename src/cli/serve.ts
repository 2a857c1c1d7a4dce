// `pullgate serve`: load the config, start the listeners, reload certificates on SIGHUP, stop on SIGTERM/SIGINT.
import { createApp } from '../app.js';
import { checkConfigFiles } from '../config/files.js';
import { loadConfig } from '../config/load.js';

export interface ServeFlags {
  config?: string;
  listenHttp?: string;
  listenHttps?: string;
  listenAdmin?: string;
  dataDir?: string;
  proxy?: string;
  logLevel?: string;
}

export async function serve(flags: ServeFlags): Promise<void> {
  const config = await loadConfig({
    ...(flags.config ? { file: flags.config } : {}),
    overrides: {
      listenHttp: flags.listenHttp,
      listenHttps: flags.listenHttps,
      listenAdmin: flags.listenAdmin,
      dataDir: flags.dataDir,
      logLevel: flags.logLevel,
      proxy: flags.proxy,
    },
  });
  await checkConfigFiles(config);
  const app = await createApp(config);
  await app.listen();
  process.on('SIGHUP', () => void app.reloadCertificates());
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    app.log.info({ signal }, 'stopping');
    const force = setTimeout(() => process.exit(1), 10_000);
    force.unref();
    void app.close().then(() => process.exit(0));
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}
