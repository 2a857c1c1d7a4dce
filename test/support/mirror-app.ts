// Builds and starts a Pullgate app on loopback port 0 from a config object, capturing its log lines.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { createApp, type App, type AppOptions } from '../../src/app/app.js';
import { configFromObject } from '../../src/config/load.js';
import { createLogger } from '../../src/logger.js';

export interface TestMirror {
  app: App;
  /** http://127.0.0.1:PORT */
  url: string;
  httpsUrl?: string;
  /** http://127.0.0.1:PORT of the admin listener, when `listen.admin` is configured. */
  adminUrl?: string;
  dataDir: string;
  logs: string[];
  close(): Promise<void>;
}

export interface StartOptions {
  baseDir?: string;
  clock?: () => number;
  /** Reuse a data directory (a restart); it is then not removed by close(). */
  dataDir?: string;
  /** The admin password (with `listen.admin` in the config). */
  adminPassword?: string;
  /** Where the admin serves the web UI from. */
  webDir?: string;
  admitPassthrough?: AppOptions['admitPassthrough'];
  watchTimer?: AppOptions['watchTimer'];
  /** The configuration a reload reads (app.reloadConfig()), as the same kind of object as the first. */
  reloadWith?: () => Record<string, unknown>;
}

export async function startMirror(config: Record<string, unknown>, options: StartOptions = {}): Promise<TestMirror> {
  const ownDir = options.dataDir === undefined;
  const dataDir = options.dataDir ?? (await mkdtemp(join(tmpdir(), 'pullgate-test-')));
  const logs: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      logs.push(...chunk.toString('utf8').split('\n').filter(Boolean));
      done();
    },
  });
  const listen = { http: '127.0.0.1:0', ...(config.listen as Record<string, unknown> | undefined) };
  const resolved = await configFromObject({ dataDir, ...config, listen, log: { level: 'debug' } }, options.baseDir ?? dataDir);
  const app = await createApp(resolved, {
    log: createLogger('debug', sink),
    ...(options.clock ? { clock: options.clock } : {}),
    ...(options.adminPassword !== undefined ? { adminPassword: options.adminPassword } : {}),
    ...(options.webDir ? { webDir: options.webDir } : {}),
    ...(options.admitPassthrough ? { admitPassthrough: options.admitPassthrough } : {}),
    ...(options.watchTimer ? { watchTimer: options.watchTimer } : {}),
    ...(options.reloadWith
      ? { loadConfig: () => configFromObject({ dataDir, ...options.reloadWith!(), listen, log: { level: 'debug' } }, options.baseDir ?? dataDir) }
      : {}),
  });
  const addresses = await app.listen();
  return {
    app,
    url: addresses.http ?? '',
    ...(addresses.https ? { httpsUrl: addresses.https } : {}),
    ...(addresses.admin ? { adminUrl: addresses.admin } : {}),
    dataDir,
    logs,
    async close() {
      await app.close();
      if (ownDir) await rm(dataDir, { recursive: true, force: true });
    },
  };
}
