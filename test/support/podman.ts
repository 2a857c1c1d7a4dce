// podman as root without systemd (docs/testing.md, "Real clients"): a private storage root (vfs), run root, network
// config dir, containers.conf, storage.conf, registries.conf and signature policy under one temp dir, so the
// machine's own podman state is never touched. Images are only pulled, never run.
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { assertInstalled, runTool, type ToolResult } from './installed-tools.js';

export interface Podman {
  dir: string;
  /** Where the test writes its registries.conf (CONTAINERS_REGISTRIES_CONF). */
  registriesConf: string;
  /** `podman pull` with the private policy, `--cert-dir` and `--tls-verify`; extra args go before the reference. */
  pull(reference: string, args?: string[]): Promise<ToolResult>;
  /** Any podman command with the private storage flags. */
  run(args: string[], timeoutMs?: number): Promise<ToolResult>;
  /** `podman image inspect`: the manifest digest and the repo digests of a stored image. */
  inspect(reference: string): Promise<{ digest: string; repoDigests: string[]; id: string }>;
  stop(): Promise<void>;
}

export async function createPodman(certDir: string): Promise<Podman> {
  await assertInstalled('podman');
  const dir = await mkdtemp(join(tmpdir(), 'pullgate-podman-'));
  const p = (name: string): string => join(dir, name);
  await Promise.all(['root', 'run', 'net', 'tmp'].map((d) => mkdir(p(d))));
  const registriesConf = p('registries.conf');
  await writeFile(registriesConf, '');
  await writeFile(p('containers.conf'), [
    '[engine]',
    'cgroup_manager = "cgroupfs"',
    'events_logger = "file"',
    `events_logfile_path = "${p('events.log')}"`,
    `tmp_dir = "${p('tmp')}"`,
    '[network]',
    `network_config_dir = "${p('net')}"`,
    '',
  ].join('\n'));
  await writeFile(p('storage.conf'), ['[storage]', 'driver = "vfs"', `runroot = "${p('run')}"`, `graphroot = "${p('root')}"`, ''].join('\n'));
  await writeFile(p('policy.json'), JSON.stringify({ default: [{ type: 'insecureAcceptAnything' }] }));
  await writeFile(p('auth.json'), JSON.stringify({ auths: {} }));

  const env: NodeJS.ProcessEnv = {
    ...process.env,
    CONTAINERS_REGISTRIES_CONF: registriesConf,
    CONTAINERS_CONF: p('containers.conf'),
    CONTAINERS_STORAGE_CONF: p('storage.conf'),
    // No auth.json of the machine's user may add credentials.
    REGISTRY_AUTH_FILE: p('auth.json'),
    TMPDIR: p('tmp'),
  };
  delete env['SSL_CERT_FILE'];
  const global = ['--root', p('root'), '--runroot', p('run'), '--storage-driver', 'vfs', '--network-config-dir', p('net'), '--tmpdir', p('tmp')];
  const run = (args: string[], timeoutMs = 120_000): Promise<ToolResult> => runTool('podman', [...global, ...args], { env, timeoutMs });

  return {
    dir,
    registriesConf,
    run,
    pull: (reference, args = []) =>
      run(['pull', '--signature-policy', p('policy.json'), '--cert-dir', certDir, '--tls-verify=true', ...args, reference]),
    async inspect(reference) {
      const { stdout } = await run(['image', 'inspect', '--format', 'json', reference]);
      const [info] = JSON.parse(stdout.toString('utf8')) as { Digest: string; RepoDigests: string[]; Id: string }[];
      if (info === undefined) throw new Error(`podman image inspect returned nothing for ${reference}`);
      return { digest: info.Digest, repoDigests: info.RepoDigests, id: info.Id };
    },
    async stop() {
      await run(['rmi', '--all', '--force'], 60_000).catch(() => undefined);
      await rm(dir, { recursive: true, force: true });
    },
  };
}
