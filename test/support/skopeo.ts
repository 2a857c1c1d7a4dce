// Real skopeo against the harness: trust comes from the CA's cert dir (or SSL_CERT_FILE), credentials from
// the harness users. `--insecure-policy` keeps the machine's /etc/containers/policy.json out of the picture.
import { createHash } from 'node:crypto';
import { runTool, type ToolResult } from './installed-tools.js';

export interface SkopeoOptions {
  env?: NodeJS.ProcessEnv | undefined;
  timeoutMs?: number | undefined;
}

export function skopeo(args: string[], opts: SkopeoOptions = {}): Promise<ToolResult> {
  return runTool('skopeo', ['--insecure-policy', ...args], opts);
}

export interface Credentials {
  user: string;
  password: string;
}

/** `skopeo inspect --raw`: the manifest bytes exactly as the registry serves them, and their digest. */
export async function inspectRaw(
  reference: string,
  opts: { certDir: string; credentials?: Credentials | undefined; env?: NodeJS.ProcessEnv | undefined },
): Promise<{ raw: Buffer; digest: string }> {
  const creds = opts.credentials === undefined ? ['--no-creds'] : ['--creds', `${opts.credentials.user}:${opts.credentials.password}`];
  const { stdout } = await skopeo(['inspect', '--raw', '--cert-dir', opts.certDir, ...creds, `docker://${reference}`], { env: opts.env });
  return { raw: stdout, digest: `sha256:${createHash('sha256').update(stdout).digest('hex')}` };
}
