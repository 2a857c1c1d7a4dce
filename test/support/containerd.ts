// A private containerd for e2e tests (docs/testing.md, "containerd without systemd or CRI"): its own root, state and
// socket under a temp dir, the CRI plugin disabled, killed with the test process (setpriv's PDEATHSIG).
// `ctr` talks to it by socket; pulls use `--hosts-dir` with hosts.toml files the test writes.
import { spawn } from 'node:child_process';
import { constants } from 'node:fs';
import { access, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { assertInstalled, runTool, type ToolResult } from './installed-tools.js';
import { awaitDaemon, daemonStop } from './daemon-process.js';

export interface Containerd {
  dir: string;
  socket: string;
  /** Runs `ctr -a SOCKET -n NAMESPACE ARGS`. */
  ctr(args: string[], opts?: { env?: NodeJS.ProcessEnv; timeoutMs?: number }): Promise<ToolResult>;
  logs(): string;
  /** SIGTERM, SIGKILL after 5 s, then the temp dir is removed; idempotent. */
  stop(): Promise<void>;
}

export interface ContainerdImage {
  name: string;
  mediaType: string;
  digest: string;
}

const maxLogChars = 2 * 1024 * 1024;

function configToml(dir: string, socket: string): string {
  return [
    'version = 2',
    `root = "${join(dir, 'root')}"`,
    `state = "${join(dir, 'state')}"`,
    // No CRI (it wants a CNI and a kubelet), and no snapshotters that need kernel features or devices.
    'disabled_plugins = ["io.containerd.grpc.v1.cri", "io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.zfs",',
    '  "io.containerd.snapshotter.v1.aufs", "io.containerd.snapshotter.v1.devmapper"]',
    '[grpc]',
    `  address = "${socket}"`,
    '[ttrpc]',
    `  address = "${socket}.ttrpc"`,
    '[plugins."io.containerd.internal.v1.opt"]',
    `  path = "${join(dir, 'opt')}"`,
    '',
  ].join('\n');
}


export async function startContainerd(namespace = 'pullgate-e2e'): Promise<Containerd> {
  await assertInstalled('containerd', 'ctr');
  const dir = await mkdtemp(join(tmpdir(), 'pullgate-containerd-'));
  const socket = join(dir, 'containerd.sock');
  await mkdir(join(dir, 'opt'));
  const configPath = join(dir, 'config.toml');
  await writeFile(configPath, configToml(dir, socket));

  const setpriv = await access('/usr/bin/setpriv', constants.X_OK).then(() => true, () => false);
  const args = ['--config', configPath, '--log-level', 'info'];
  const stdio: ['ignore', 'pipe', 'pipe'] = ['ignore', 'pipe', 'pipe'];
  const child = setpriv
    ? spawn('/usr/bin/setpriv', ['--pdeathsig', 'KILL', '--', 'containerd', ...args], { stdio })
    : spawn('containerd', args, { stdio });
  let logs = '';
  const keep = (chunk: Buffer): void => {
    logs = (logs + chunk.toString('utf8')).slice(-maxLogChars);
  };
  child.stdout.on('data', keep);
  child.stderr.on('data', keep);

  const ctr = (ctrArgs: string[], opts: { env?: NodeJS.ProcessEnv; timeoutMs?: number } = {}) =>
    runTool('ctr', ['-a', socket, '-n', namespace, ...ctrArgs], opts);

  const daemon = { child, dir, name: 'containerd', logs: () => logs };
  const stop = daemonStop(daemon, 5_000);
  await awaitDaemon(daemon, () => ctr(['version'], { timeoutMs: 5_000 }).then(() => true, () => false), { timeoutMs: 30_000, everyMs: 200, what: socket, stop });
  return { dir, socket, ctr, logs: () => logs, stop };
}

/** `DIR/<registry>/hosts.toml` with one mirror host for pulls and resolves (containerd docs/hosts.md). */
export async function writeHostsToml(
  hostsDir: string,
  registry: string,
  o: { server: string; mirror: string; ca: string },
): Promise<void> {
  const dir = join(hostsDir, registry);
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, 'hosts.toml'), [
    `server = "${o.server}"`,
    '',
    `[host."${o.mirror}"]`,
    '  capabilities = ["pull", "resolve"]',
    `  ca = "${o.ca}"`,
    '',
  ].join('\n'));
}

/**
 * The environment for ctr without SSL_CERT_FILE/SSL_CERT_DIR: only a hosts.toml `ca` makes a TLS peer trusted, so a
 * pull cannot quietly fall back to the upstream.
 */
export function ctrEnvWithoutSystemCa(): NodeJS.ProcessEnv {
  const env = { ...process.env };
  delete env['SSL_CERT_FILE'];
  delete env['SSL_CERT_DIR'];
  return env;
}

/** `ctr images ls` as records: REF TYPE DIGEST SIZE PLATFORMS LABELS. */
export async function listImages(c: Containerd): Promise<ContainerdImage[]> {
  const { stdout } = await c.ctr(['images', 'ls']);
  return stdout
    .toString('utf8')
    .split('\n')
    .slice(1)
    .map((line) => line.trim().split(/\s+/))
    .filter((cols) => cols.length >= 3 && cols[0] !== '')
    .map(([name = '', mediaType = '', digest = '']) => ({ name, mediaType, digest }));
}

/** The digests in containerd's content store (`ctr content ls -q`). */
export async function contentDigests(c: Containerd): Promise<Set<string>> {
  const { stdout } = await c.ctr(['content', 'ls', '-q']);
  return new Set(stdout.toString('utf8').split('\n').map((l) => l.trim()).filter(Boolean));
}
