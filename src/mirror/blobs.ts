// Blobs stream from the upstream through a verifier; the client gets headers as soon as the upstream answers.
// The content cache (one fill per digest) plugs in here, in front of the upstream fetch.
import { pipeline } from 'node:stream';
import type { Digest } from '../registry/digest.js';
import { RegistryError } from '../registry/errors.js';
import { formatRange, parseRange } from './range.js';
import type { PullContext, RegistryReply } from './reply.js';
import { upstreamFailure } from './upstream-failure.js';
import { VerifyingStream } from './verifying-stream.js';

export interface BlobRequest {
  method: 'GET' | 'HEAD';
  digest: Digest;
  range?: string;
}

export async function getBlob(ctx: PullContext, req: BlobRequest): Promise<RegistryReply> {
  const range = parseRange(req.range);
  const started = Date.now();
  const res = await ctx.upstream.fetch({
    method: req.method,
    path: `/v2/${ctx.repository}/blobs/${req.digest}`,
    headers: range ? { range: formatRange(range) } : {},
    repository: ctx.repository,
    ...(ctx.clientAuthorization ? { clientAuthorization: ctx.clientAuthorization } : {}),
    signal: ctx.signal,
  });
  ctx.log.upstreamStatus = res.status;
  ctx.log.upstreamMs = Date.now() - started;
  ctx.log.cache = 'PASS';
  if (res.status !== 200 && res.status !== 206) throw await upstreamFailure(res, ctx, 'BLOB_UNKNOWN');

  const length = res.headers['content-length'] === undefined ? undefined : Number(res.headers['content-length']);
  if (length !== undefined && !Number.isSafeInteger(length)) {
    res.body.destroy();
    throw new RegistryError('UPSTREAM_INVALID', 'upstream sent an invalid Content-Length');
  }
  const headers: Record<string, string> = {
    'content-type': 'application/octet-stream',
    'docker-content-digest': req.digest,
    etag: `"${req.digest}"`,
    'accept-ranges': 'bytes',
    'cache-control': 'max-age=31536000',
  };
  if (length !== undefined) headers['content-length'] = String(length);
  if (req.method === 'HEAD') {
    await res.body.dump();
    return { status: 200, headers };
  }
  if (res.status === 206) {
    const contentRange = res.headers['content-range'];
    if (typeof contentRange !== 'string') {
      res.body.destroy();
      throw new RegistryError('UPSTREAM_INVALID', 'upstream sent 206 without Content-Range');
    }
    // A part cannot be checked against the digest; every client verifies the whole blob it assembles.
    return { status: 206, headers: { ...headers, 'content-range': contentRange }, body: res.body };
  }
  // The upstream ignored the Range (allowed by RFC 9110): the client gets the whole, verified blob.
  const verifier = new VerifyingStream(req.digest, length);
  pipeline(res.body, verifier, () => {});
  return { status: 200, headers, body: verifier };
}
