// A blob GET that hits the bucket, answered with 307 to a presigned URL when the store hands them out
// (`cache.storage.redirect`, docs/storage.md, "Redirecting blob downloads to the bucket"): the client downloads from
// the object store itself, as with distribution's storage redirect. Only after the access checks of a streamed hit (the
// caller's), never for HEAD (the mirror knows the size), and never for a fill in flight (nothing is in the bucket
// before its commit). A Range is resolved here first, so an unsatisfiable one gets the mirror's 416; the client sends
// the same Range to the object store.
import type { ByteSpan } from '../cache/ports.js';
import type { Digest } from '../registry/digest.js';
import { resolveRange, type RangeSpec } from './range.js';
import type { PullContext, RegistryReply } from './reply.js';
import type { MirrorServices } from './services.js';

export async function redirectToStore(
  svc: MirrorServices,
  ctx: PullContext,
  req: { method: 'GET' | 'HEAD'; digest: Digest },
  range: RangeSpec | undefined,
  size: number,
): Promise<RegistryReply | undefined> {
  // An empty blob has nothing to offload.
  if (req.method !== 'GET' || size === 0 || !svc.store.redirectUrl) return undefined;
  const span: ByteSpan = resolveRange(range, size);
  const location = await svc.store.redirectUrl(req.digest);
  if (location === undefined) return undefined;
  ctx.log.cache = 'REDIRECT';
  ctx.log.redirectedBytes = span.end - span.start + 1;
  svc.index.touch('blob', req.digest);
  return {
    status: 307,
    headers: {
      location,
      'content-length': '0',
      'docker-content-digest': req.digest,
      // The URL expires: no cache may keep the redirect longer than the request.
      'cache-control': 'no-store',
    },
    body: Buffer.alloc(0),
  };
}
