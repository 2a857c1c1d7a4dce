// End-to-end tests need real programs; a missing one is a failure with a clear message, never a skip.
import { execFile } from 'node:child_process';
import { constants } from 'node:fs';
import { access } from 'node:fs/promises';
import { delimiter, join } from 'node:path';
import { promisify } from 'node:util';

const debianPackage: Record<string, string> = {
  'docker-registry': 'docker-registry',
  skopeo: 'skopeo',
  ctr: 'containerd',
  containerd: 'containerd',
  podman: 'podman',
  nginx: 'nginx',
  openssl: 'openssl',
  pebble: 'pebble',
  setpriv: 'util-linux',
  script: 'bsdutils',
  dockerd: 'docker.io',
  docker: 'docker.io',
  radosgw: 'radosgw',
  'radosgw-admin': 'ceph-common',
  'ceph-mon': 'ceph-mon',
  'ceph-osd': 'ceph-osd',
  ceph: 'ceph-common',
  'ceph-authtool': 'ceph-common',
  monmaptool: 'ceph-base',
};

async function onPath(name: string): Promise<boolean> {
  for (const dir of (process.env['PATH'] ?? '').split(delimiter)) {
    if (dir === '') continue;
    const found = await access(join(dir, name), constants.X_OK).then(() => true, () => false);
    if (found) return true;
  }
  return false;
}

/** Throws naming every missing program and the Debian package that provides it. */
export async function assertInstalled(...names: string[]): Promise<void> {
  const missing: string[] = [];
  for (const name of names) if (!(await onPath(name))) missing.push(name);
  if (missing.length === 0) return;
  const packages = [...new Set(missing.map((m) => debianPackage[m] ?? m))].join(' ');
  throw new Error(`required program(s) not on PATH: ${missing.join(', ')}; install with: apt-get install -y ${packages}`);
}

export interface ToolResult {
  stdout: Buffer;
  stderr: string;
}

export class ToolError extends Error {
  readonly code = 'TOOL_FAILED';

  constructor(
    readonly command: string,
    readonly exitCode: number | null,
    readonly stderr: string,
  ) {
    super(`${command} failed (exit ${exitCode ?? 'signal'}): ${stderr.trim()}`);
  }
}

const runFile = promisify(execFile);

/** `--creds user:pw`, `--src-creds=user:pw`, `--user u:p`: keep passwords out of error messages. */
function redactCredentials(args: string[]): string[] {
  const secretFlag = /^--?(\w+-)?(creds|user|password)$/;
  return args.map((arg, i) => {
    if (/^--?(\w+-)?(creds|user|password)=/.test(arg)) return `${arg.split('=')[0] ?? ''}=<redacted>`;
    return i > 0 && secretFlag.test(args[i - 1] ?? '') ? '<redacted>' : arg;
  });
}

/** Runs a program to completion, failing with its stderr in the message. */
export async function runTool(
  file: string,
  args: string[],
  opts: { env?: NodeJS.ProcessEnv | undefined; timeoutMs?: number | undefined } = {},
): Promise<ToolResult> {
  try {
    const { stdout, stderr } = await runFile(file, args, {
      env: opts.env ?? process.env,
      timeout: opts.timeoutMs ?? 120_000,
      encoding: 'buffer',
      maxBuffer: 64 * 1024 * 1024,
    });
    return { stdout, stderr: stderr.toString('utf8') };
  } catch (err) {
    const e = err as { code?: number | string; stderr?: Buffer };
    if (e.code === 'ENOENT') throw new Error(`${file} is not installed: ${String(err)}`);
    const exitCode = typeof e.code === 'number' ? e.code : null;
    throw new ToolError(`${file} ${redactCredentials(args).join(' ')}`, exitCode, e.stderr?.toString('utf8') ?? String(err));
  }
}
