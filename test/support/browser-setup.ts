// What the admin UI browser tests run against, all real: Debian's docker-registry with token auth and the fixture
// images (test/support/real-registry.ts), a Pullgate app with an HTTPS registry listener on a test hostname and an
// admin listener serving a fresh build of web/, and the mirror hostname in /etc/hosts for skopeo. The config file
// also declares a registry user, a TLS passthrough route and an upstream, which the UI must show as read-only.
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { hashPassword } from '../../src/access/password.js';
import { createApp, type App } from '../../src/app/app.js';
import { configFromObject } from '../../src/config/load.js';
import { createLogger } from '../../src/logger.js';
import { buildWeb } from '../../web/build.js';
import type { Browser } from 'playwright-core';
import { assertChromium, launchBrowser } from './browser.js';
import { addHostsBlock } from './etc-hosts.js';
import { assertInstalled } from './installed-tools.js';
import { pushFixtures, type Fixtures } from './fixture-images.js';
import { startRealRegistry, type RealRegistry } from './real-registry.js';

/** The mirror's own name (its root), first in its certificate: what the setup page proposes to clients. */
export const rootMirrorHost = 'mirror.pullgate.test';
/** The hostname the test maps to the upstream it adds through the UI. */
export const uiMirrorHost = 'ui.mirror.pullgate.test';
/** The hostname of a second upstream the test adds, whose regional mirror is down. */
export const failoverMirrorHost = 'failover.mirror.pullgate.test';
/** Declared in the config file: read-only in the UI. */
export const configUser = 'ci-bot';
export const configRoute = { sni: 'legacy.secure.pullgate.test', to: '127.0.0.1:9' };
/** Declared in the config file, read-only in the UI; its origin refuses connections (nothing listens on port 9). */
export const configUpstream = { name: 'filed', registry: 'filed.pullgate.test', url: 'https://127.0.0.1:9' };

export interface BrowserSetup {
  reg: RealRegistry;
  fixtures: Fixtures;
  app: App;
  /** `http://127.0.0.1:PORT` of the admin listener. */
  adminUrl: string;
  /** `ui.mirror.pullgate.test:PORT`, the HTTPS registry listener by the test hostname. */
  mirrorAt: string;
  /** The HTTPS port of the registry listener. */
  httpsPort: number;
  adminPassword: string;
  /** PEM of the upstream's CA, pasted into the upstream form. */
  caPem: string;
  logs: string[];
  stop(): Promise<void>;
}

export async function startBrowserSetup(adminPassword: string): Promise<BrowserSetup> {
  const cleanups: (() => Promise<void>)[] = [];
  const stop = async (): Promise<void> => {
    for (const step of cleanups.splice(0).reverse()) await step().catch(() => undefined);
  };
  try {
    // The admin listener serves web/dist; build it from the current sources so the test sees what it tests.
    await buildWeb();
    const hosts = await addHostsBlock([rootMirrorHost, uiMirrorHost, failoverMirrorHost]);
    cleanups.push(() => hosts.remove());
    const reg = await startRealRegistry();
    cleanups.push(() => reg.stop());
    const fixtures = await pushFixtures(reg);
    const cert = await reg.ca.issue('pullgate-ui-mirror', [rootMirrorHost, uiMirrorHost, failoverMirrorHost], ['127.0.0.1']);
    const dataDir = await mkdtemp(join(tmpdir(), 'pullgate-ui-'));
    cleanups.push(() => rm(dataDir, { recursive: true, force: true }));
    const logs: string[] = [];
    const sink = new Writable({
      write(chunk: Buffer, _enc, done) {
        logs.push(...chunk.toString('utf8').split('\n').filter(Boolean));
        done();
      },
    });
    const config = await configFromObject(
      {
        dataDir,
        listen: { http: '127.0.0.1:0', https: '127.0.0.1:0', admin: '127.0.0.1:0' },
        tls: { certificates: [{ cert: cert.certPath, key: cert.keyPath }], passthrough: [configRoute] },
        access: { users: [{ username: configUser, passwordHash: await hashPassword('config user password') }] },
        log: { level: 'debug' },
        // One upstream in the file (read-only in the UI); the tests add theirs through the UI.
        upstreams: [{ ...configUpstream, retries: { attempts: 1 } }],
      },
      dataDir,
    );
    const app = await createApp(config, { log: createLogger('debug', sink), adminPassword });
    cleanups.push(() => app.close());
    const addresses = await app.listen();
    if (!addresses.admin) throw new Error('the app did not start its admin listener (listen.admin)');
    if (!addresses.https) throw new Error('the app did not start its HTTPS listener');
    return {
      reg,
      fixtures,
      app,
      adminUrl: addresses.admin,
      mirrorAt: `${uiMirrorHost}:${new URL(addresses.https).port}`,
      httpsPort: Number(new URL(addresses.https).port),
      adminPassword,
      caPem: await readFile(reg.caFile, 'utf8'),
      logs,
      stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}

/** The programs every browser suite needs besides chromium (installed-tools.ts names their Debian packages). */
export const browserSuitePrograms = ['docker-registry', 'skopeo', 'openssl'];

/** What every browser suite starts with: its setup and a launched chromium; `close` stops both. */
export interface BrowserSuite {
  s: BrowserSetup;
  browser: Browser;
  close(): Promise<void>;
}

/** Checks chromium and the programs (a failure naming what to install, never a skip), starts the setup, launches chromium. */
export async function openBrowserSuite(adminPassword: string): Promise<BrowserSuite> {
  await assertChromium();
  await assertInstalled(...browserSuitePrograms);
  const s = await startBrowserSetup(adminPassword);
  let browser: Browser;
  try {
    browser = await launchBrowser();
  } catch (err) {
    await s.stop();
    throw err;
  }
  return {
    s,
    browser,
    close: async () => {
      await browser.close();
      await s.stop();
    },
  };
}
