// A private Docker Engine for e2e tests (docs/testing.md, "A real Docker Engine"): Debian's dockerd with its own
// data-root, exec-root, pidfile and unix socket under a temp dir, no iptables, no bridge, the vfs storage driver,
// killed with the test process (setpriv's PDEATHSIG). It only pulls: without a bridge it runs no containers.
// The docker CLI talks to it by socket with a client config dir of its own, so no credentials of the machine's
// user are sent. Trust for a registry or mirror is a file under /etc/docker/certs.d/<host:port>/ (docs/protocol.md,
// "Docker registry-mirrors"), added by `trustCa` and removed again by its `remove()`.
import { spawn } from 'node:child_process';
import { constants } from 'node:fs';
import { access, copyFile, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, type AddressInfo, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { addHostsBlock } from './etc-hosts.js';
import { assertInstalled, runTool, type ToolResult } from './installed-tools.js';
import { awaitDaemon, daemonStop } from './daemon-process.js';

export interface DockerEngineOptions {
  /** `registry-mirrors` of daemon.json: URLs tried before Docker Hub for Docker Hub images. */
  registryMirrors?: string[];
  /**
   * Credentials the docker CLI holds for Docker Hub (`auths["https://index.docker.io/v1/"]` of its config.json),
   * as after a `docker login` to Docker Hub; default: none.
   */
  dockerHubCredentials?: { user: string; password: string };
}

export interface DockerEngine {
  dir: string;
  /** `unix://DIR/docker.sock` */
  host: string;
  /** Runs the docker CLI against this daemon. */
  docker(args: string[], opts?: { timeoutMs?: number }): Promise<ToolResult>;
  /** `docker image inspect`: the image id and the repository digests. */
  inspect(reference: string): Promise<{ id: string; repoDigests: string[]; architecture: string }>;
  /** The daemon's own version (`docker version` server side). */
  serverVersion(): Promise<string>;
  logs(): string;
  /** SIGTERM, SIGKILL after 10 s, then the temp dir is removed; idempotent. */
  stop(): Promise<void>;
}

/** Where Docker's classic puller reads a registry's CA, per host:port (docs/protocol.md, "Docker registry-mirrors"). */
export const dockerCertsRoot = '/etc/docker/certs.d';

/** What the engine needs on PATH (installed-tools.ts names their Debian package). */
export const dockerPrograms = ['dockerd', 'docker'];

const maxLogChars = 2 * 1024 * 1024;

export interface TrustedCa {
  /** Removes the certs.d entry again (and its directory); idempotent. */
  remove(): Promise<void>;
}

/**
 * `/etc/docker/certs.d/<hostPort>/ca.crt` = `caFile`. Refuses to overwrite an entry it did not create: the dir
 * holds only this test's file and goes away with `remove()`.
 */
export async function trustCa(hostPort: string, caFile: string): Promise<TrustedCa> {
  if (!/^[a-z0-9.-]+:\d+$/.test(hostPort)) throw new Error(`not host:port: ${hostPort}`);
  const dir = join(dockerCertsRoot, hostPort);
  const exists = await access(dir).then(() => true, () => false);
  if (exists) throw new Error(`${dir} exists already; another run left it behind or uses the same port`);
  await mkdir(dir, { recursive: true });
  await copyFile(caFile, join(dir, 'ca.crt'));
  let removed = false;
  return {
    async remove() {
      if (removed) return;
      removed = true;
      await rm(dir, { recursive: true, force: true });
    },
  };
}

export async function startDockerEngine(o: DockerEngineOptions = {}): Promise<DockerEngine> {
  await assertInstalled(...dockerPrograms);
  const dir = await mkdtemp(join(tmpdir(), 'pullgate-dockerd-'));
  const p = (name: string): string => join(dir, name);
  await Promise.all(['root', 'exec', 'client', 'tmp'].map((d) => mkdir(p(d))));
  const socket = p('docker.sock');
  const host = `unix://${socket}`;
  const daemonJson = p('daemon.json');
  await writeFile(daemonJson, JSON.stringify({
    'data-root': p('root'),
    'exec-root': p('exec'),
    pidfile: p('docker.pid'),
    hosts: [host],
    // No networking of its own: the machine's firewall and interfaces stay untouched.
    iptables: false,
    'ip-forward': false,
    'ip-masq': false,
    bridge: 'none',
    'storage-driver': 'vfs',
    'registry-mirrors': o.registryMirrors ?? [],
    // Failures show at once instead of after five retries.
    'max-download-attempts': 1,
    debug: true,
  }, null, 2));
  const auths: Record<string, { auth: string }> = {};
  if (o.dockerHubCredentials) {
    const { user, password } = o.dockerHubCredentials;
    auths['https://index.docker.io/v1/'] = { auth: Buffer.from(`${user}:${password}`).toString('base64') };
  }
  await writeFile(p('client/config.json'), JSON.stringify({ auths }));

  const setpriv = await access('/usr/bin/setpriv', constants.X_OK).then(() => true, () => false);
  const args = ['--config-file', daemonJson];
  // The daemon's own temp files (layer downloads) stay in this dir.
  const env: NodeJS.ProcessEnv = { ...process.env, DOCKER_TMPDIR: p('tmp') };
  delete env['SSL_CERT_FILE'];
  delete env['SSL_CERT_DIR'];
  const stdio: ['ignore', 'pipe', 'pipe'] = ['ignore', 'pipe', 'pipe'];
  const child = setpriv
    ? spawn('/usr/bin/setpriv', ['--pdeathsig', 'KILL', '--', 'dockerd', ...args], { stdio, env })
    : spawn('dockerd', args, { stdio, env });
  let logs = '';
  const keep = (chunk: Buffer): void => {
    logs = (logs + chunk.toString('utf8')).slice(-maxLogChars);
  };
  child.stdout.on('data', keep);
  child.stderr.on('data', keep);

  const clientEnv: NodeJS.ProcessEnv = { ...process.env, DOCKER_HOST: host, DOCKER_CONFIG: p('client') };
  delete clientEnv['DOCKER_CONTEXT'];
  delete clientEnv['DOCKER_TLS_VERIFY'];
  const docker = (dockerArgs: string[], opts: { timeoutMs?: number } = {}): Promise<ToolResult> =>
    runTool('docker', dockerArgs, { env: clientEnv, timeoutMs: opts.timeoutMs ?? 180_000 });

  // vfs layers may hold read-only files and mounts are none: a plain recursive remove does it.
  const daemon = { child, dir, name: 'dockerd', logs: () => logs };
  const stop = daemonStop(daemon, 10_000);
  const probe = () => docker(['version', '--format', '{{.Server.Version}}'], { timeoutMs: 5_000 }).then(() => true, () => false);
  await awaitDaemon(daemon, probe, { timeoutMs: 60_000, everyMs: 250, what: socket, stop });

  return {
    dir,
    host,
    docker,
    async inspect(reference) {
      const { stdout } = await docker(['image', 'inspect', reference]);
      const [info] = JSON.parse(stdout.toString('utf8')) as { Id: string; RepoDigests: string[] | null; Architecture: string }[];
      if (info === undefined) throw new Error(`docker image inspect returned nothing for ${reference}`);
      return { id: info.Id, repoDigests: info.RepoDigests ?? [], architecture: info.Architecture };
    },
    async serverVersion() {
      const { stdout } = await docker(['version', '--format', '{{.Server.Version}}']);
      return stdout.toString('utf8').trim();
    },
    logs: () => logs,
    stop,
  };
}

/** Docker Hub's names as the daemon dials them (its fallback after the mirrors, and the token service). */
export const dockerHubHosts = ['registry-1.docker.io', 'index.docker.io', 'auth.docker.io'];

export interface DockerHubSentinel {
  /** The loopback address Docker Hub's names resolve to meanwhile. */
  address: string;
  /** TCP connections to port 443 so far: each one is the daemon falling back to Docker Hub. */
  connections(): number;
  close(): Promise<void>;
}

/**
 * Docker Hub's names mapped (an /etc/hosts block) to a loopback address where port 443 accepts and at once closes
 * every connection, counting them: a fallback from the mirror to Docker Hub can neither reach the internet nor go
 * unnoticed.
 */
export async function startDockerHubSentinel(address = '127.0.9.1'): Promise<DockerHubSentinel> {
  let accepted = 0;
  const open = new Set<Socket>();
  const server = createServer((socket) => {
    accepted++;
    open.add(socket);
    socket.on('error', () => undefined);
    socket.on('close', () => open.delete(socket));
    socket.destroy();
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(443, address, () => resolve());
  });
  const hosts = await addHostsBlock(dockerHubHosts, (server.address() as AddressInfo).address).catch(async (err: unknown) => {
    await new Promise((resolve) => server.close(resolve));
    throw err;
  });
  return {
    address,
    connections: () => accepted,
    async close() {
      await hosts.remove();
      for (const s of open) s.destroy();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}
