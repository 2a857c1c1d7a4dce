// The light client: undici in the bench process, a fresh connection pool per pull, the body hashed and counted
// and then dropped. A wrong length, digest or status fails the pull (and so the bench).
import { createHash } from 'node:crypto';
import { Agent, request, type Dispatcher } from 'undici';
import type { LargeBlob } from '../test/support/large-blob.js';
import type { RealRegistry } from '../test/support/real-registry.js';

export interface PullTiming {
  /** Request start (the first request the client makes for this blob) to the last body byte, ms. */
  wallMs: number;
  /** Request start to the first body byte, ms. */
  ttfbMs: number;
  bytes: number;
}

export class TransferError extends Error {
  override readonly name = 'TransferError';
}

export interface ClientOptions {
  /** PEM of the CA the servers' certificates chain to. */
  ca: string;
  /** Offer h2 by ALPN (the mirror speaks it; docker-registry too). Default: HTTP/1.1 only. */
  h2?: boolean;
  timeoutMs: number;
}

const newAgent = (o: ClientOptions): Agent =>
  new Agent({ connect: { ca: o.ca }, allowH2: o.h2 ?? false, headersTimeout: o.timeoutMs, bodyTimeout: o.timeoutMs });

async function get(agent: Dispatcher, url: string, headers: Record<string, string>, signal: AbortSignal): Promise<Dispatcher.ResponseData> {
  return request(url, { dispatcher: agent, method: 'GET', headers, signal });
}

async function failWith(res: Dispatcher.ResponseData, what: string): Promise<never> {
  const text = await res.body.text().catch(() => '');
  throw new TransferError(`${what}: HTTP ${res.statusCode} ${text.slice(0, 300)}`);
}

/** Reads the blob body to the end, checking its length and sha256 against the blob. */
async function drain(res: Dispatcher.ResponseData, blob: LargeBlob, started: number, where: string): Promise<PullTiming> {
  if (res.statusCode !== 200) return failWith(res, `${where}: expected 200`);
  const announced = res.headers['content-length'];
  if (announced !== undefined && Number(announced) !== blob.size) {
    res.body.destroy();
    throw new TransferError(`${where}: Content-Length ${String(announced)}, expected ${blob.size}`);
  }
  const header = res.headers['docker-content-digest'];
  if (header !== undefined && header !== blob.digest) {
    res.body.destroy();
    throw new TransferError(`${where}: Docker-Content-Digest ${String(header)}, expected ${blob.digest}`);
  }
  const hash = createHash('sha256');
  let bytes = 0;
  let first: number | undefined;
  for await (const chunk of res.body as AsyncIterable<Buffer>) {
    first ??= performance.now();
    bytes += chunk.length;
    hash.update(chunk);
  }
  const end = performance.now();
  const digest = `sha256:${hash.digest('hex')}`;
  if (bytes !== blob.size) throw new TransferError(`${where}: got ${bytes} bytes, expected ${blob.size}`);
  if (digest !== blob.digest) throw new TransferError(`${where}: digest mismatch: got ${digest}, expected ${blob.digest}`);
  return { wallMs: end - started, ttfbMs: (first ?? end) - started, bytes };
}

/**
 * What a client does against a Docker-Hub-like registry: an anonymous token from the realm, the blob GET with
 * it, the 307 followed to the CDN without Authorization, the body read to the end.
 */
export async function pullDirect(reg: RealRegistry, repository: string, blob: LargeBlob, o: ClientOptions): Promise<PullTiming> {
  const agent = newAgent(o);
  const signal = AbortSignal.timeout(o.timeoutMs);
  try {
    const started = performance.now();
    const query = new URLSearchParams({ service: reg.tokenServer.service, scope: `repository:${repository}:pull` });
    const tokenRes = await get(agent, `${reg.tokenServer.realm}?${query.toString()}`, {}, signal);
    if (tokenRes.statusCode !== 200) return await failWith(tokenRes, 'token request');
    const { token } = (await tokenRes.body.json()) as { token?: string };
    if (typeof token !== 'string') throw new TransferError('token response without a token');

    const blobUrl = `${reg.url}/v2/${repository}/blobs/${blob.digest}`;
    const redirect = await get(agent, blobUrl, { authorization: `Bearer ${token}` }, signal);
    const location = redirect.headers['location'];
    if (redirect.statusCode !== 307 || typeof location !== 'string') return await failWith(redirect, 'registry blob GET: expected a 307 to the CDN');
    await redirect.body.dump();

    const res = await get(agent, new URL(location, blobUrl).href, {}, signal);
    return await drain(res, blob, started, 'CDN blob GET');
  } finally {
    await agent.close();
  }
}

/** A plain anonymous blob GET from a registry that needs no token (the mirror, the proxy peer). */
export async function pullFrom(baseUrl: string, repository: string, blob: LargeBlob, o: ClientOptions): Promise<PullTiming> {
  const agent = newAgent(o);
  const signal = AbortSignal.timeout(o.timeoutMs);
  try {
    const started = performance.now();
    const res = await get(agent, `${baseUrl}/v2/${repository}/blobs/${blob.digest}`, {}, signal);
    return await drain(res, blob, started, `${baseUrl} blob GET`);
  } finally {
    await agent.close();
  }
}
