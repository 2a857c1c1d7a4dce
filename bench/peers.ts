// The servers under test, each its own process so its CPU and memory are its own: the Pullgate mirror (the
// built dist/ under node) and Debian's docker-registry as distribution's pull-through cache (the peer).
import { randomBytes } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Agent, request } from 'undici';
import { stringify } from 'yaml';
import { freePort } from '../test/support/loopback-listener.js';
import type { IssuedCert } from '../test/support/pki.js';
import type { RealRegistry } from '../test/support/real-registry.js';
import { spawnChild, type Child } from './child.js';
import { mirrorEnv, mirrorNodeArgs } from './config.js';

export interface Server {
  child: Child;
  /** `https://127.0.0.1:PORT` */
  url: string;
}

/** One access line of the mirror (src/server/access-log.ts), the fields the bench checks. */
export interface MirrorAccessLine {
  url: string;
  /** The worker's slot that served it (with several workers). */
  worker?: number;
  status: number;
  bytes: number;
  upstreamStatus?: number;
  error?: { code: string; message: string };
}

export interface MirrorServer extends Server {
  accessLines: MirrorAccessLine[];
}

export interface MirrorOptions {
  /** Project root: holds dist/src/main.js. */
  root: string;
  /** A directory for this mirror's config and data. */
  dir: string;
  reg: RealRegistry;
  cert: IssuedCert;
  /** Node flags (default: BENCH_MIRROR_NODE_ARGS or the memory settings'), e.g. `--cpu-prof --cpu-prof-dir=DIR`. */
  nodeArgs?: string[];
  /** `workers:` (docs/workers.md); absent: one process. */
  workers?: number;
  startTimeoutMs?: number;
}

async function raceStart<T>(child: Child, what: Promise<T>, timeoutMs: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${child.name} did not start within ${timeoutMs} ms`)), timeoutMs);
  });
  const died = child.exit.then(() => Promise.reject(new Error(`${child.name} exited during start-up`)));
  try {
    return await Promise.race([what, timeout, died]);
  } catch (err) {
    await child.stop(1_000);
    throw new Error(`${(err as Error).message}\n--- ${child.name} output ---\n${child.output()}`);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * `node dist/src/main.js serve --config DIR/pullgate.yaml` on port 0; the URL comes from its listening log line
 * (with several workers, the supervisor's, once every worker listens).
 */
export async function startMirror(o: MirrorOptions): Promise<MirrorServer> {
  await mkdir(o.dir, { recursive: true });
  const configPath = join(o.dir, 'pullgate.yaml');
  const config = {
    ...(o.workers === undefined ? {} : { workers: o.workers }),
    listen: { https: '127.0.0.1:0' },
    tls: { certificates: [{ cert: o.cert.certPath, key: o.cert.keyPath }] },
    log: { level: 'info' },
    dataDir: join(o.dir, 'data'),
    // Anonymous mirror mode; repository names with a slash get no library/ prefix.
    upstreams: [{ name: 'up', registry: 'docker.io', url: o.reg.url, ca: o.reg.caFile, default: true }],
  };
  await writeFile(configPath, stringify(config));
  const accessLines: MirrorAccessLine[] = [];
  let listening: (url: string) => void = () => undefined;
  const ready = new Promise<string>((resolve) => (listening = resolve));
  const child = spawnChild({
    name: 'pullgate mirror',
    command: process.execPath,
    args: [...(o.nodeArgs ?? mirrorNodeArgs()), join(o.root, 'dist', 'src', 'main.js'), 'serve', '--config', configPath],
    env: mirrorEnv(),
    cwd: o.dir,
    onLine: (line) => {
      if (!line.startsWith('{')) return;
      let entry: Record<string, unknown>;
      try {
        entry = JSON.parse(line) as Record<string, unknown>;
      } catch {
        return;
      }
      // With several workers, every worker logs its own listening line; the supervisor's says all are.
      const ready = (o.workers ?? 1) > 1 ? 'pullgate workers listening' : 'pullgate listening';
      if (entry['msg'] === ready && typeof entry['https'] === 'string') listening(entry['https']);
      if (entry['msg'] === 'request' && typeof entry['url'] === 'string') accessLines.push(entry as unknown as MirrorAccessLine);
    },
  });
  const url = await raceStart(child, ready, o.startTimeoutMs ?? 20_000);
  return { child, url, accessLines };
}

export interface ProxyOptions {
  /** A fresh directory: config and storage (cold cache). */
  dir: string;
  reg: RealRegistry;
  cert: IssuedCert;
  /** Upstream credentials for the proxy (`proxy.username/password`). */
  username: string;
  password: string;
  startTimeoutMs?: number;
}

export interface ProxyServer extends Server {
  storageRoot: string;
}

async function waitForV2(url: string, ca: string, child: Child): Promise<void> {
  const agent = new Agent({ connect: { ca } });
  try {
    for (;;) {
      if (child.exited()) return;
      const status = await request(`${url}/v2/`, { dispatcher: agent })
        .then(async (res) => (await res.body.dump(), res.statusCode))
        .catch(() => 0);
      if (status === 200) return;
      if (status !== 0) throw new Error(`${child.name} answered /v2/ with ${status}`);
      await sleep(50);
    }
  } finally {
    await agent.close();
  }
}

/**
 * docker-registry in proxy mode (`proxy: {remoteurl, username, password}`) with a TLS listener and its own storage:
 * distribution's pull-through cache, trusting the test CA through SSL_CERT_FILE.
 */
export async function startProxy(o: ProxyOptions): Promise<ProxyServer> {
  const storageRoot = join(o.dir, 'storage');
  await mkdir(storageRoot, { recursive: true });
  const configPath = join(o.dir, 'config.yml');
  let lastError: unknown;
  // docker-registry cannot listen on port 0: a free port is picked, and picked again if another process took it.
  for (let attempt = 0; attempt < 3; attempt++) {
    const port = await freePort('127.0.0.1');
    const config = {
      version: 0.1,
      log: { level: 'info', formatter: 'text', accesslog: { disabled: true } },
      storage: {
        filesystem: { rootdirectory: storageRoot },
        delete: { enabled: true },
        maintenance: { uploadpurging: { enabled: false } },
      },
      http: {
        addr: `127.0.0.1:${port}`,
        secret: randomBytes(16).toString('hex'),
        tls: { certificate: o.cert.certPath, key: o.cert.keyPath },
      },
      proxy: { remoteurl: o.reg.url, username: o.username, password: o.password },
    };
    await writeFile(configPath, stringify(config));
    const child = spawnChild({
      name: 'docker-registry proxy',
      command: 'docker-registry',
      args: ['serve', configPath],
      env: { ...process.env, SSL_CERT_FILE: o.reg.caFile },
    });
    const url = `https://127.0.0.1:${port}`;
    try {
      await raceStart(child, waitForV2(url, o.reg.ca.caCertPem, child), o.startTimeoutMs ?? 20_000);
      return { child, url, storageRoot };
    } catch (err) {
      lastError = err;
      if (!/address already in use/.test(String(err))) break;
    }
  }
  throw lastError instanceof Error ? lastError : new Error(String(lastError));
}
