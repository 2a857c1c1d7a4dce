// The upstream as a place to find signatures (signature/signature-source.ts): the same repository, the same
// credentials as the pull (the mirror's own, or in passthrough mode the client's), small documents read whole.
import { createHash } from 'node:crypto';
import { RegistryError } from '../registry/errors.js';
import { fullManifestAccept } from '../registry/media-types.js';
import type { SignatureSource } from '../signature/signature-source.js';
import type { PullContext } from './reply.js';
import { readCapped } from '../upstream/capped-body.js';
import { upstreamFailure } from './upstream-failure.js';

const maxDocumentBytes = 4 * 1024 * 1024;

export function upstreamSignatureSource(ctx: PullContext): SignatureSource {
  const get = async (path: string, accept?: string) => {
    const res = await ctx.upstream.fetch({
      method: 'GET',
      path: `/v2/${ctx.repository}/${path}`,
      headers: accept ? { accept } : {},
      repository: ctx.repository,
      ...(ctx.clientAuthorization ? { clientAuthorization: ctx.clientAuthorization } : {}),
      signal: ctx.signal,
    });
    return res;
  };
  const optional = async (path: string, accept: string): Promise<Buffer | undefined> => {
    const res = await get(path, accept);
    if (res.status === 404) {
      await res.body.dump();
      return undefined;
    }
    if (res.status !== 200) throw await upstreamFailure(res, ctx, 'MANIFEST_UNKNOWN');
    return readCapped(res.body, maxDocumentBytes, 'upstream signature document', res.headers['content-length']);
  };
  return {
    manifest: (reference) => optional(`manifests/${reference}`, fullManifestAccept),
    referrers: (digest) => optional(`referrers/${digest}`, 'application/vnd.oci.image.index.v1+json'),
    async blob(digest, maxBytes) {
      const res = await get(`blobs/${digest}`);
      if (res.status !== 200) throw await upstreamFailure(res, ctx, 'BLOB_UNKNOWN');
      const bytes = await readCapped(res.body, maxBytes, 'upstream signature blob', res.headers['content-length']);
      if (`sha256:${createHash('sha256').update(bytes).digest('hex')}` !== digest) {
        throw new RegistryError('UPSTREAM_INVALID', 'upstream signature blob does not match its digest');
      }
      return bytes;
    },
  };
}
