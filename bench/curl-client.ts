// The lighter client: curl child processes instead of undici in the bench process, so that the bench's own CPU
// does not compete with the servers on 2 cores. curl does not hash: `verifyOnce` checks the digest separately.
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { promisify } from 'node:util';
import { Agent, request } from 'undici';
import type { LargeBlob } from '../test/support/large-blob.js';
import type { RealRegistry } from '../test/support/real-registry.js';
import { pullFrom, TransferError, type ClientOptions, type PullTiming } from './light-client.js';

const run = promisify(execFile);

export interface CurlOptions {
  caFile: string;
  timeoutMs: number;
  headers?: Record<string, string>;
  /** Follow redirects (-L); curl drops Authorization when the host changes. */
  follow?: boolean;
}

/** `curl -s -o /dev/null -w ...`: wall = time_total, TTFB = time_starttransfer (first response byte). */
export async function curlGet(url: string, blob: LargeBlob, o: CurlOptions): Promise<PullTiming> {
  // HTTP/1.1 like the registry clients it stands for (Docker, containerd and containers/image do not use h2).
  const args = ['-s', '--http1.1', '-o', '/dev/null', '--cacert', o.caFile, '--max-time', String(Math.ceil(o.timeoutMs / 1000))];
  if (o.follow) args.push('-L');
  for (const [k, v] of Object.entries(o.headers ?? {})) args.push('-H', `${k}: ${v}`);
  args.push('-w', '%{http_code} %{time_starttransfer} %{time_total} %{size_download}', url);
  const { stdout } = await run('curl', args).catch((err: { code?: number; stderr?: string }) => {
    throw new TransferError(`curl ${url} failed (exit ${String(err.code)}): ${err.stderr ?? ''}`);
  });
  const [code, start, total, size] = stdout.trim().split(' ').map(Number);
  if (code !== 200) throw new TransferError(`curl ${url}: HTTP ${String(code)}`);
  if (size !== blob.size) throw new TransferError(`curl ${url}: got ${String(size)} bytes, expected ${blob.size}`);
  return { wallMs: (total ?? Number.NaN) * 1000, ttfbMs: (start ?? Number.NaN) * 1000, bytes: size };
}

/** Direct from the upstream: a token first when it wants one (timed, as the undici client does), then `curl -L`. */
export async function curlDirect(reg: RealRegistry, repository: string, blob: LargeBlob, o: CurlOptions): Promise<PullTiming> {
  const started = performance.now();
  const headers: Record<string, string> = {};
  if (reg.auth) {
    const agent = new Agent({ connect: { ca: readFileSync(o.caFile, 'utf8') } });
    try {
      const query = new URLSearchParams({ service: reg.tokenServer.service, scope: `repository:${repository}:pull` });
      const res = await request(`${reg.tokenServer.realm}?${query.toString()}`, { dispatcher: agent });
      const { token } = (await res.body.json()) as { token?: string };
      if (typeof token !== 'string') throw new TransferError('token response without a token');
      headers['authorization'] = `Bearer ${token}`;
    } finally {
      await agent.close();
    }
  }
  const tokenMs = performance.now() - started;
  const t = await curlGet(`${reg.url}/v2/${repository}/blobs/${blob.digest}`, blob, { ...o, headers, follow: true });
  return { ...t, wallMs: t.wallMs + tokenMs, ttfbMs: t.ttfbMs + tokenMs };
}

export const curlFrom = (baseUrl: string, repository: string, blob: LargeBlob, o: CurlOptions): Promise<PullTiming> =>
  curlGet(`${baseUrl}/v2/${repository}/blobs/${blob.digest}`, blob, o);

/** One undici pull that hashes the body: the digest check curl does not do. */
export async function verifyOnce(baseUrl: string, repository: string, blob: LargeBlob, o: ClientOptions): Promise<void> {
  await pullFrom(baseUrl, repository, blob, o);
}
